from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

purpose_code = RegexValidator(r"^[a-z][a-z0-9-]{1,39}$", "Lower-case letters, digits and hyphens, e.g. 'fraud-risk'.")

DEFAULT_PURPOSES = (
    ("investigation", "Investigation"),
    ("fraud-risk", "Fraud risk assessment"),
)


class TenantPurpose(models.Model):
    """A purpose of use a tenant's members may declare (header x-ig-purpose, or the selector in the pages)."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="purposes")
    code = models.CharField(max_length=40, validators=[purpose_code])
    label = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["tenant__slug", "code"]
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="purpose_unique_code_per_tenant")]

    def __str__(self) -> str:
        return f"{self.code} ({self.tenant})"


class PolicyBundleVersion(models.Model):
    """A version of the Rego policy bundle that has been in force, with its sources, by SHA-256."""

    sha256 = models.CharField(max_length=64, unique=True)
    sources = models.JSONField(help_text="File path -> Rego source, as loaded.")
    first_loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-first_loaded_at"]

    def __str__(self) -> str:
        return self.sha256[:16]
