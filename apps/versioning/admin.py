from django.contrib import admin, messages
from django.db.models import Max, Sum

from apps.access.admin_scoping import ReadOnlyAdminMixin, TenantScopedAdminMixin
from apps.versioning import deprecations
from apps.versioning.models import DeprecatedFieldUsage


@admin.register(DeprecatedFieldUsage)
class DeprecatedFieldUsageAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Which clients (tokens, sessions) still run operations touching deprecated fields: the list to confirm a
    deprecation timeline with, and to e-mail it to them. Tenant staff see the clients of their tenants' users."""

    tenant_lookup = "user__memberships__tenant"
    list_display = ("field", "client", "operation", "day", "count", "last_seen_at", "eol", "notified_at")
    list_filter = ("field", "operation", "day", "notified_at")
    search_fields = ("client", "field", "operation")
    date_hierarchy = "day"
    list_select_related = ("user", "token")
    actions = ["notify_client"]
    change_list_template = "admin/versioning/deprecatedfieldusage/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).distinct()

    @admin.display(description="EOL")
    def eol(self, obj):
        return deprecations.registry().get(obj.field, {}).get("eol", "?")

    def changelist_view(self, request, extra_context=None):
        """Above the daily rows: per client and field, the total and when it was last seen."""
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        if changelist is not None:
            registry = deprecations.registry()
            summary = (
                changelist.queryset.order_by()
                .values("client", "field")
                .annotate(total=Sum("count"), last_seen=Max("last_seen_at"), notified=Max("notified_at"))
                .order_by("field", "-last_seen")
            )
            response.context_data["usage_summary"] = [
                {**row, "eol": registry.get(row["field"], {}).get("eol", "?")} for row in summary[:200]
            ]
        return response

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="E-mail the deprecation timeline to the selected clients' owners")
    def notify_client(self, request, queryset):
        result = deprecations.notify_clients(usages=queryset, actor=request.user)
        if result["sent"]:
            self.message_user(request, f"Sent the deprecation timeline to: {', '.join(result['sent'])}.")
        if result["without_email"]:
            self.message_user(
                request,
                f"No e-mail address for: {', '.join(result['without_email'])}; set one on the account first.",
                messages.WARNING,
            )
        if not result["sent"] and not result["without_email"]:
            self.message_user(request, "None of the selected rows names a client's owner.", messages.WARNING)
