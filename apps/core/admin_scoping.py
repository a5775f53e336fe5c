"""Tenant scoping for the admin: staff see only the tenants they are members of.

Superusers see everything. Every admin class over tenant-owned rows mixes this
in, so a changelist, a change page, a foreign-key dropdown and an autocomplete
all narrow data the same way (the selectors do the narrowing).
"""

from django.contrib import admin
from django.db import models

from apps.access import services as access
from apps.compliance import services as audit
from apps.core import selectors


class TenantScopedAdminMixin:
    #: lookup from the admin's model to its Tenant
    tenant_lookup = "tenant"
    #: rows with no tenant (e.g. a failed login) are for superusers only
    tenant_null_visible_to_superusers_only = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        tenant_ids = selectors.tenant_ids_for_user(user=request.user)
        return queryset.filter(**{f"{self.tenant_lookup}__in": tenant_ids})

    def _tenant_id_of(self, obj):
        if obj._meta.label == "core.Tenant":
            return obj.pk
        return getattr(obj, "tenant_id", None)

    def _may_change(self, request, obj) -> bool:
        """The admin-change policy, per tenant: a reader in one tenant is not an admin there
        because they are an admin in another (Django's model permissions are global)."""
        if obj is None or request.user.is_superuser:
            return True
        tenant_id = self._tenant_id_of(obj)
        if tenant_id is None:
            return True
        subject = access.subject_for_request(request)
        return access.admin_change_allowed(subject=subject, tenant_id=tenant_id, record_type=obj._meta.model_name)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and not request.user.is_superuser:
            obj = self.get_object(request, object_id) if object_id else None
            if obj is not None and not self._may_change(request, obj):
                audit.record(
                    "access.denied", actor=request.user, tenant=self._tenant_id_of(obj), target=obj,
                    payload={"action": "admin-change", "bundle": access.policy.current_bundle().sha256},
                )  # fmt: skip
            elif obj is None and self._tenant_refused(request):
                # The form refuses a tenant outside the dropdown; the attempt is recorded too.
                audit.record(
                    "access.denied", actor=request.user, target_type=self.model._meta.label_lower,
                    payload={"action": "admin-change", "reason": "TENANT", "tenant": request.POST.get("tenant"),
                             "record_type": self.model._meta.model_name,
                             "bundle": access.policy.current_bundle().sha256},
                )  # fmt: skip
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _tenant_refused(self, request) -> bool:
        """Whether a new record is posted into a tenant where the member may not add this type of record."""
        if not any(f.name == "tenant" for f in self.model._meta.fields):
            return False
        value = request.POST.get("tenant", "")
        if not value.isdigit() or len(value) > 18:
            return False
        return not access.admin_change_allowed(
            subject=access.subject_for_request(request), tenant_id=int(value), record_type=self.model._meta.model_name
        )

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_change(request, obj)

    def get_list_filter(self, request):
        """Related-field filters list only values present in the scoped queryset, never other tenants'."""
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and "__" not in item:
                field = self.model._meta.get_field(item)
                if isinstance(field, models.ForeignKey):
                    item = (item, admin.RelatedOnlyFieldListFilter)
            filters.append(item)
        return filters

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if request.user.is_superuser or field is None:
            return field
        model = db_field.related_model
        tenant_ids = selectors.tenant_ids_for_user(user=request.user)
        if model._meta.label == "core.Tenant":
            # New records go only into tenants where the member may change this type of record.
            subject = access.subject_for_request(request)
            record_type = self.model._meta.model_name
            writable = [
                t
                for t in tenant_ids
                if access.admin_change_allowed(subject=subject, tenant_id=t, record_type=record_type)
            ]
            field.queryset = field.queryset.filter(pk__in=writable)
        elif any(f.name == "tenant" for f in model._meta.fields):
            field.queryset = field.queryset.filter(tenant__in=tenant_ids)
        elif model._meta.label == "core.User":
            field.queryset = field.queryset.filter(memberships__tenant__in=tenant_ids).distinct()
        return field


class ReadOnlyAdminMixin:
    """For records only services write (audit events, provenance, policy bundles): view, never edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ShownAs:
    """An object as a page may name it: the object in every respect but its ``str()``."""

    def __init__(self, obj, label: str) -> None:
        self._obj = obj
        self._label = label

    def __getattr__(self, name):
        return getattr(self._obj, name)

    def __str__(self) -> str:
        return self._label


class PolicyNamedAdminMixin:
    """Pages that name entities (a relationship's ends, a provenance record's entity, an entity itself)
    name them as the access policy lets the viewer see them: hidden ones as "(not visible to you)",
    names built from withheld attributes with that part withheld. One policy call per page.
    """

    #: foreign keys to core.Entity shown by name; "" stands for the row itself when the model is Entity
    named_entities: tuple[str, ...] = ()

    def _entities_of(self, obj) -> list:
        found = []
        for name in self.named_entities:
            if name == "":
                found.append(obj)
            elif getattr(obj, f"{name}_id", None) is not None:
                found.append(getattr(obj, name))
        return found

    def names_for(self, request, objs) -> dict:
        entities = [e for obj in objs for e in self._entities_of(obj)]
        if request.user.is_superuser:
            return {e.pk: e.display_name for e in entities}
        return access.display_names(subject=access.subject_for_request(request), entities=entities)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        names = self.names_for(request, changelist.result_list)
        for obj in changelist.result_list:
            obj._ig_names = names
        return changelist

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._ig_names = self.names_for(request, [obj])
        return obj

    @staticmethod
    def entity_name(obj, field: str = "") -> str:
        entity_id = obj.pk if field == "" else getattr(obj, f"{field}_id", None)
        if entity_id is None:
            return "—"
        return getattr(obj, "_ig_names", {}).get(entity_id, access.NOT_VISIBLE_LABEL)

    def page_label(self, obj) -> str:
        """How the change page names the object (title, breadcrumbs)."""
        return " · ".join(self.entity_name(obj, name) for name in self.named_entities) or str(obj)

    def action_checkbox(self, obj):
        # Django labels the checkbox "Select this object for an action - <str(obj)>".
        return super().action_checkbox(ShownAs(obj, self.page_label(obj)))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not request.user.is_superuser:
            label = self.page_label(obj)
            context["original"] = ShownAs(obj, label)
            context["subtitle"] = label
        return super().render_change_form(request, context, add, change, form_url, obj)
