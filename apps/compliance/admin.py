from django.contrib import admin

from apps.access.admin_scoping import ReadOnlyAdminMixin, TenantScopedAdminMixin
from apps.audit.admin import AuditProofAdminMixin
from apps.audit.models import AuditEvent, AuditSigningKey
from apps.audit.services import trusted_keys


@admin.register(AuditEvent)
class AuditEventAdmin(AuditProofAdminMixin, ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Read-only: audit events are appended by the audit service and never edited."""

    list_display = ("seq", "created_at", "event_type", "actor_label", "tenant", "target_type", "target_id")
    list_filter = ("event_type", "tenant", "created_at")
    search_fields = ("event_type", "actor_label", "target_id", "hash")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    show_full_result_count = False
    tenant_null_visible_to_superusers_only = True

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(AuditSigningKey)
class AuditSigningKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys that have signed events, for information: verification trusts only the configured keys."""

    list_display = ("key_id", "public_key", "created_at", "trusted")

    @admin.display(boolean=True, description="trusted (configured)")
    def trusted(self, obj: AuditSigningKey) -> bool:
        return trusted_keys().get(obj.key_id) == obj.public_key
