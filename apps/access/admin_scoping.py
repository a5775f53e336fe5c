"""Tenant scoping for the admin, the admin side of the access layer: staff see only the tenants they are members of.

Superusers see everything. Every admin class over tenant-owned rows mixes this
in, so a changelist, a change page, a foreign-key dropdown and an autocomplete
all narrow data the same way (the selectors do the narrowing).
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import F, Func, Q
from django.http import Http404
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from apps.access import services as access
from apps.access.selectors import NOT_VISIBLE_LABEL, display_names
from apps.audit import services as audit
from apps.audit.admin import AuditedAdminMixin
from apps.core import selectors


class TenantScopedAdminMixin(AuditedAdminMixin):
    """Every add, change and delete is audited too (``AuditedAdminMixin``: ``admin.created`` and so on)."""

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
                    "access.denied",
                    actor=request.user,
                    tenant=self._tenant_id_of(obj),
                    target=obj,
                    payload={"action": "admin-change", "bundle": access.policy.current_bundle().sha256},
                )
            elif obj is None and self._tenant_refused(request):
                # The form refuses a tenant outside the dropdown; the attempt is recorded too.
                audit.record(
                    "access.denied",
                    actor=request.user,
                    target_type=self.model._meta.label_lower,
                    payload={
                        "action": "admin-change",
                        "reason": "TENANT",
                        "tenant": request.POST.get("tenant"),
                        "record_type": self.model._meta.model_name,
                        "bundle": access.policy.current_bundle().sha256,
                    },
                )
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

    def _in_scope(self, request, object_id) -> None:
        """History pages (simple_history) load rows themselves, unscoped: only rows of the member's tenants."""
        if request.user.is_superuser:
            return
        try:
            found = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValueError, ValidationError):
            found = False
        if not found:
            raise Http404("No such record in your tenants.")

    def history_view(self, request, object_id, extra_context=None):
        self._in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """An old version, and its revert (a save): a revert needs the right to change the record."""
        self._in_scope(request, object_id)
        if request.method == "POST" and not request.user.is_superuser:
            obj = self.get_object(request, unquote(object_id))
            if not self.has_change_permission(request, obj):
                audit.record(
                    "access.denied",
                    actor=request.user,
                    tenant=self._tenant_id_of(obj),
                    target=obj,
                    payload={"action": "admin-revert", "bundle": access.policy.current_bundle().sha256},
                )
                raise PermissionDenied("Reverting needs the right to change this record.")
        return super().history_form_view(request, object_id, version_id, extra_context)

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

    def get_changeform_initial_data(self, request):
        """A new record's tenant is preselected when the member may add this type of record in one tenant only
        (the dropdown offers only that one anyway)."""
        initial = super().get_changeform_initial_data(request)
        field = next((f for f in self.model._meta.fields if f.name == "tenant"), None)
        if field is None or field.related_model._meta.label != "core.Tenant" or request.user.is_superuser:
            return initial
        writable = access.tenants_allowing(
            subject=access.subject_for_request(request), record_type=self.model._meta.model_name
        )
        if len(writable) == 1:
            initial.setdefault("tenant", writable[0])
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if request.user.is_superuser or field is None:
            return field
        model = db_field.related_model
        tenant_ids = selectors.tenant_ids_for_user(user=request.user)
        if model._meta.label == "core.Tenant":
            # New records go only into tenants where the member may change this type of record.
            writable = access.tenants_allowing(
                subject=access.subject_for_request(request), record_type=self.model._meta.model_name
            )
            field.queryset = field.queryset.filter(pk__in=writable)
        elif any(f.name == "tenant" for f in model._meta.fields):
            field.queryset = field.queryset.filter(tenant__in=tenant_ids)
        elif model._meta.label == "core.User":
            field.queryset = field.queryset.filter(memberships__tenant__in=tenant_ids).distinct()
        return field


class ReadOnlyAdminMixin(AuditedAdminMixin):
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
        return display_names(subject=access.subject_for_request(request), entities=entities)

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
        return getattr(obj, "_ig_names", {}).get(entity_id, NOT_VISIBLE_LABEL)

    def page_label(self, obj) -> str:
        """How the change page names the object (title, breadcrumbs)."""
        return " · ".join(self.entity_name(obj, name) for name in self.named_entities) or str(obj)

    def shown(self, request, obj):
        """The object under the name the viewer may see, for every page, message and log entry that
        prints it (Django's use ``str(obj)``)."""
        if obj is None or request.user.is_superuser or isinstance(obj, ShownAs):
            return obj
        if not hasattr(obj, "_ig_names"):
            obj._ig_names = self.names_for(request, [obj])
        return ShownAs(obj, self.page_label(obj))

    def response_add(self, request, obj, post_url_continue=None):
        return super().response_add(request, self.shown(request, obj), post_url_continue)

    def response_change(self, request, obj):
        return super().response_change(request, self.shown(request, obj))

    def response_delete(self, request, obj_display, obj_id):
        labels = getattr(request, "_ig_labels", {})
        return super().response_delete(request, labels.get(obj_display, obj_display), obj_id)

    def log_addition(self, request, obj, message):
        return super().log_addition(request, self.shown(request, obj), message)

    def log_change(self, request, obj, message):
        return super().log_change(request, self.shown(request, obj), message)

    def log_deletions(self, request, queryset):
        return super().log_deletions(request, [self.shown(request, obj) for obj in queryset])

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if request.user.is_superuser:
            return deleted, counts, perms_needed, protected
        # The confirmation page lists the objects by str(): put the names the viewer may see in their place.
        labels = {}
        for obj in objs:
            shown = self.shown(request, obj)
            labels[str(obj)] = str(shown)
        request._ig_labels = labels
        escaped = {escape(raw): escape(label) for raw, label in labels.items()}

        def relabel(item):
            if isinstance(item, list):
                return [relabel(x) for x in item]
            if isinstance(item, SafeString):  # HTML Django built from escaped parts: swap the escaped names
                text = str(item)
                for raw, label in escaped.items():
                    text = text.replace(raw, label)
                return mark_safe(text)  # noqa: S308 - both sides escaped
            text = str(item)  # plain text, escaped by the template
            for raw, label in labels.items():
                text = text.replace(raw, label)
            return text

        return relabel(deleted), counts, perms_needed, protected

    def render_delete_form(self, request, context):
        context["object"] = self.shown(request, context.get("object"))
        return super().render_delete_form(request, context)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        obj = getattr(response, "context_data", {}).get("object")
        if obj is not None and not request.user.is_superuser:
            shown = self.shown(request, obj)
            response.context_data["object"] = shown
            response.context_data["title"] = _("Change history: %s") % shown
        return response

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        if getattr(request, "_ig_names_searched_apart", False):
            return [f for f in fields if not f.endswith("display_name")]
        return fields

    def get_search_results(self, request, queryset, search_term):
        """Members search names as the index holds them: without the words that show a withheld attribute's
        value (search_entity_name, the index's own rule), so a search cannot confirm a guess at an IBAN."""
        names = [f for f in super().get_search_fields(request) if f.endswith("display_name")]
        if request.user.is_superuser or not search_term or not names:
            return super().get_search_results(request, queryset, search_term)
        request._ig_names_searched_apart = True
        try:
            others, duplicates = super().get_search_results(request, queryset, search_term)
        finally:
            request._ig_names_searched_apart = False
        shown, matches = {}, Q()
        for number, name in enumerate(names):
            prefix = name[: -len("display_name")]
            alias = f"ig_indexed_name_{number}"
            shown[alias] = Func(
                F(f"{prefix}display_name"),
                F(f"{prefix}attributes"),
                function="search_entity_name",
                output_field=models.TextField(),
            )
            matches |= Q(**{f"{alias}__icontains": search_term.strip()})
        if len(names) < len(super().get_search_fields(request)):  # other fields were searched by Django
            matches |= Q(pk__in=others.values("pk"))
        return queryset.alias(**shown).filter(matches), duplicates

    def action_checkbox(self, obj):
        # Django labels the checkbox "Select this object for an action - <str(obj)>".
        return super().action_checkbox(ShownAs(obj, self.page_label(obj)))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not request.user.is_superuser:
            label = self.page_label(obj)
            context["original"] = ShownAs(obj, label)
            context["subtitle"] = label
        return super().render_change_form(request, context, add, change, form_url, obj)
