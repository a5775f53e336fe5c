from django.db import models


class DeprecatedFieldUsage(models.Model):
    """How often a client used a deprecated API field on one day (to confirm a removal timeline with them)."""

    field = models.CharField(max_length=200)
    client = models.CharField(max_length=200, help_text="Persisted operation id, or user and token prefix.")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "field", "client"]
        constraints = [
            models.UniqueConstraint(fields=["field", "client", "day"], name="deprecated_usage_one_row_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.field} by {self.client} on {self.day}: {self.count}"
