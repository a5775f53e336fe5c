from django.conf import settings
from django.db import models


class DeprecatedFieldUsage(models.Model):
    """How often one client ran an operation touching a deprecated API field on one day.

    Counted only when an authenticated operation that selects the field executes (never for refused or
    unexecuted ones), so the list is the clients to confirm a removal timeline with.
    """

    field = models.CharField(max_length=200)
    client = models.CharField(max_length=200, help_text="The API token (prefix, name, owner) or the session's account.")
    operation = models.CharField(max_length=100, default="ad-hoc", help_text="Persisted operation id, or ad-hoc.")
    token = models.ForeignKey(
        "core.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="deprecated_usages"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField(auto_now_add=True, null=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When its owner was last e-mailed about it.")

    class Meta:
        ordering = ["-day", "field", "client"]
        constraints = [
            models.UniqueConstraint(
                fields=["field", "client", "operation", "day"], name="deprecated_usage_one_row_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.field} by {self.client} ({self.operation}) on {self.day}: {self.count}"
