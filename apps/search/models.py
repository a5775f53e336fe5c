from django.db import models
from simple_history.models import HistoricalRecords

from apps.search.choices import TextSearchConfig


class TenantSearchSettings(models.Model):
    """How a tenant's entities are indexed for keyword search (PostgreSQL text search configuration)."""

    tenant = models.OneToOneField("core.Tenant", on_delete=models.CASCADE, related_name="search_settings")
    text_search_config = models.CharField(
        max_length=32,
        choices=TextSearchConfig.choices,
        default=TextSearchConfig.SIMPLE,
        help_text="'simple' matches words as written; a language stems them (run search_reindex after a change).",
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "tenant search settings"
        ordering = ["tenant__slug"]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.text_search_config}"


class ExcludedField(models.Model):
    """An attribute whose words are kept out of the keyword index because a policy may withhold it.

    Synced from the policy bundle's governed fields; a redacted field's words must never make an
    entity match a search. Such fields stay searchable through attribute filters, for those allowed.
    """

    name = models.CharField(max_length=100, primary_key=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
