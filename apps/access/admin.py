"""Admin for access control: purposes per tenant, the policy bundle, and the decision tester."""

import uuid

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path
from simple_history.admin import SimpleHistoryAdmin

from apps.access import bundle as policy
from apps.access import decisions
from apps.access import services as access
from apps.access.admin_scoping import ReadOnlyAdminMixin, TenantScopedAdminMixin
from apps.access.models import PolicyBundleVersion, TenantPurpose
from apps.access.selectors import ACTIONS, display_names, explain, readable
from apps.core.models import Entity, User


@admin.register(TenantPurpose)
class TenantPurposeAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("code", "label", "tenant", "is_active", "updated_at")
    list_filter = ("tenant", "is_active")
    search_fields = ("code", "label")


class DecisionTestForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.all(), help_text="Whose access to test.")
    entity = forms.CharField(help_text="Entity id (UUID).")
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    purpose = forms.CharField(required=False, help_text="Declared purpose, e.g. investigation.")

    def __init__(self, *args, entities=None, users=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.entities = entities
        self.fields["user"].queryset = users

    def clean_entity(self):
        value = self.cleaned_data["entity"].strip()
        try:
            entity_id = uuid.UUID(value)
        except ValueError:
            raise forms.ValidationError("Enter an entity id (a UUID).") from None
        entity = self.entities.filter(pk=entity_id).select_related("tenant").first()
        if entity is None:
            raise forms.ValidationError("No entity with this id in your tenants.")
        return entity


@admin.register(PolicyBundleVersion)
class PolicyBundleVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the Rego bundles that have been in force. The decision tester lives here too."""

    list_display = ("sha256", "first_loaded_at", "in_force")
    readonly_fields = ("sha256", "first_loaded_at", "rego_sources")
    exclude = ("sources",)
    change_list_template = "admin/access/policybundleversion/change_list.html"

    @admin.display(boolean=True, description="In force")
    def in_force(self, obj):
        return obj.sha256 == policy.current_bundle().sha256

    @admin.display(description="Rego sources")
    def rego_sources(self, obj):
        from django.utils.html import format_html_join

        return format_html_join(
            "", "<h3>{}</h3><pre style='white-space:pre-wrap'>{}</pre>", sorted(obj.sources.items())
        )

    def changelist_view(self, request, extra_context=None):
        decisions.bundle_record_if_new()
        extra_context = {**(extra_context or {}), "bundle_sha": policy.current_bundle().sha256}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        tester = self.admin_site.admin_view(self.decision_tester_view)
        return [path("test-decision/", tester, name="access_decision_tester"), *super().get_urls()]

    def decision_tester_view(self, request):
        """Pick a user, an entity and an action: see what the policy decides and why."""
        if request.user.is_superuser:
            users, entities = User.objects.all(), Entity.objects.all()
        else:
            tenant_ids = access.subject_for_request(request).tenant_ids
            users = User.objects.filter(memberships__tenant__in=tenant_ids).distinct()
            entities = readable(subject=access.subject_for_request(request), action="search").queryset
        form = DecisionTestForm(request.GET or None, entities=entities, users=users)
        result = None
        if request.GET and form.is_valid():
            data = form.cleaned_data
            subject = access.subject_for(user=data["user"], purpose=data["purpose"] or None)
            entity = data["entity"]
            decision = explain(subject=subject, entity=entity, action=data["action"])
            viewer = access.subject_for_request(request)
            shown = (
                entity.display_name
                if request.user.is_superuser
                else display_names(subject=viewer, entities=[entity])[entity.pk]
            )
            result = {
                "entity": entity,
                "name": shown,
                "decision": decision,
                "fields": [
                    {"name": name, "redaction": decision.redactions.get(name)} for name in sorted(entity.attributes)
                ],
                "bundle": policy.current_bundle().sha256,
            }
        context = {
            **self.admin_site.each_context(request),
            "title": "Test an access decision",
            "form": form,
            "result": result,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/access/decision_tester.html", context)
