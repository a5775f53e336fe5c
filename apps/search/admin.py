from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from apps.access.admin_scoping import ReadOnlyAdminMixin, TenantScopedAdminMixin
from apps.search.models import ExcludedField, TenantSearchSettings
from apps.search.services import search_reindex


@admin.register(TenantSearchSettings)
class TenantSearchSettingsAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("tenant", "text_search_config", "updated_at")
    list_filter = ("text_search_config",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "text_search_config" in form.changed_data:
            done = search_reindex(tenant_ids=[obj.tenant_id])
            self.message_user(request, f"Reindexed {done} entities of {obj.tenant}.", level=messages.SUCCESS)


@admin.register(ExcludedField)
class ExcludedFieldAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: kept in step with the policy bundle's governed attributes."""

    list_display = ("name",)
