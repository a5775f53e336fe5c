from django.contrib import admin

from apps.access.admin_scoping import ReadOnlyAdminMixin
from apps.versioning.models import DeprecatedFieldUsage


@admin.register(DeprecatedFieldUsage)
class DeprecatedFieldUsageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who still uses deprecated fields, by day: the list to confirm a deprecation timeline with."""

    list_display = ("day", "field", "client", "count", "last_seen_at")
    list_filter = ("field", "day")
    search_fields = ("client", "field")
    date_hierarchy = "day"
