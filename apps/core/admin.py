"""Admin for the core domain. Saves and deletes go through the services, so they are audited."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseRedirect
from guardian.admin import GuardedModelAdminMixin
from simple_history.admin import SimpleHistoryAdmin

from apps.access import services as access
from apps.access.admin_scoping import PolicyNamedAdminMixin, TenantScopedAdminMixin
from apps.access.selectors import readable
from apps.audit import services as audit
from apps.audit.admin import AuditedAdminMixin
from apps.core import selectors, services
from apps.core.choices import Role, Sensitivity
from apps.core.models import (
    ApiToken,
    Entity,
    GroundTruthLabel,
    Membership,
    Provenance,
    Relationship,
    Source,
    Tenant,
    User,
)


class ServiceErrorsAsMessagesMixin:
    """Changeform saves call the services; a ValidationError they raise becomes an error message."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ServiceBackedModelAdmin(ServiceErrorsAsMessagesMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Changeform saves call the services; a ValidationError becomes a form error."""


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    tenant_lookup = "pk"
    list_display = ("slug", "name", "is_active", "feature_flags", "created_at")
    list_filter = ("is_active",)
    search_fields = ("slug", "name")
    readonly_fields = ("created_at", "updated_at")

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False  # tenants are deactivated, never deleted: their records and audit trail stay


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("tenant", "role", "clearance", "compartments", "is_active")
    fk_name = "user"


# Fields that make an account more than a member of its tenants: superusers' alone to set.
SUPERUSER_ONLY_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


class MemberCreationForm(UserCreationForm):
    """A new account made by a tenant administrator: it starts as a member of a tenant they administer."""

    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none(), help_text="The tenant the user joins.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READER)
    clearance = forms.TypedChoiceField(choices=Sensitivity.choices, coerce=int, initial=Sensitivity.INTERNAL)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(AuditedAdminMixin, DjangoGroupAdmin):
    """Django's groups; the role groups (``role:...``) are kept in step with memberships by apps.access.roles.
    Audited: a changed group changes what a role may do in the admin."""


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    """Accounts. Superusers manage every account; a tenant administrator manages the accounts that belong
    only to tenants they administer (never a superuser, never the staff or superuser flags), so nobody
    reaches another tenant through a member the two tenants share. Every change and refusal is audited."""

    list_display = ("username", "email", "is_staff", "is_superuser", "is_active", "last_login")
    inlines = [MembershipInline]
    member_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Status", {"fields": ("is_active", "last_login", "date_joined")}),
    )
    member_add_fieldsets = (
        (None, {"fields": ("username", "email", "password1", "password2")}),
        ("Membership", {"fields": ("tenant", "role", "clearance")}),
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(memberships__tenant__in=selectors.tenant_ids_for_user(user=request.user)).distinct()

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if request.user.is_superuser else []

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        if request.GET.get("model_name") == "apitoken" and request.GET.get("field_name") == "user":
            # The token form's autocomplete offers only accounts a token may be issued for.
            queryset = access.users_manageable(subject=access.subject_for_request(request), queryset=queryset)
        elif request.GET.get("model_name") == "membership" and not request.user.is_superuser:
            queryset = queryset.filter(is_superuser=False)
        return queryset, duplicates

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.member_add_fieldsets if obj is None else self.member_fieldsets

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser else ("last_login", "date_joined")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None and not request.user.is_superuser:
            kwargs["form"] = MemberCreationForm
        form = super().get_form(request, obj, **kwargs)
        if obj is None and not request.user.is_superuser:
            subject = access.subject_for_request(request)
            form.base_fields["tenant"].queryset = Tenant.objects.filter(
                pk__in=access.tenants_allowing(subject=subject, record_type="user")
            )
        return form

    def has_add_permission(self, request):
        if not super().has_add_permission(request):
            return False
        subject = access.subject_for_request(request)
        return request.user.is_superuser or bool(access.tenants_allowing(subject=subject, record_type="user"))

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or access.user_manage_allowed(subject=access.subject_for_request(request), target=obj)

    def _refuse(self, request, obj, action):
        access.user_manage_denied(subject=access.subject_for_request(request), target=obj, action=action)
        raise PermissionDenied(
            "Only superusers manage this account: it is a superuser or belongs to a tenant you do not administer."
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and not request.user.is_superuser:
            sent = sorted(name for name in SUPERUSER_ONLY_FIELDS if name in request.POST)
            obj = self.get_object(request, object_id) if object_id else None
            if object_id and obj is not None and not self.has_change_permission(request, obj):
                self._refuse(request, obj, "user-change")
            if sent:
                subject = access.subject_for_request(request)
                audit.record(
                    "access.denied",
                    actor=request.user,
                    target=obj,
                    target_type="" if obj else "core.user",
                    payload={
                        "action": "user-change",
                        "reason": "SUPERUSER_ONLY_FIELDS",
                        "fields": sent,
                        "bundle": access.policy.current_bundle().sha256,
                        "tenants": subject.tenant_ids,
                    },
                )
                raise PermissionDenied(f"Only superusers set {', '.join(sent)}.")
        return super().changeform_view(request, object_id, form_url, extra_context)

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, id)
        if user is not None and not self.has_change_permission(request, user):
            self._refuse(request, user, "user-password")
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302 and user is not None:
            services.user_password_set(user=user, actor=request.user)
        return response

    def save_model(self, request, obj, form, change):
        if change:
            services.user_update(user=obj, actor=request.user, changed=form.changed_data)
            return
        if request.user.is_superuser:
            with transaction.atomic():
                super().save_model(request, obj, form, change)
                audit.record("user.created", actor=request.user, target=obj, payload={"username": obj.username})
            return
        data = form.cleaned_data
        created = services.user_create(
            username=data["username"],
            email=data.get("email", ""),
            password=data["password1"],
            tenant=data["tenant"],
            role=data["role"],
            clearance=data["clearance"],
            actor=request.user,
        )
        obj.pk = created.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        if request.user.is_superuser or change:
            super().save_related(request, form, formsets, change)


@admin.register(Membership)
class MembershipAdmin(ServiceErrorsAsMessagesMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    """A tenant's administrators manage its memberships, superusers' memberships excepted."""

    list_display = ("user", "tenant", "role", "clearance", "is_active", "updated_at")
    list_filter = ("tenant", "role", "clearance", "is_active")
    search_fields = ("user__username", "user__email", "tenant__slug")
    list_select_related = ("user", "tenant")
    autocomplete_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        # A membership moves to no other user or tenant: a new one is made instead.
        return ("user", "tenant") if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.user.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and field is not None and not request.user.is_superuser:
            field.queryset = field.queryset.filter(is_superuser=False)
        return field

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        user = obj.user if change else data["user"]
        tenant = obj.tenant if change else data["tenant"]
        if not data.get("is_active", True):
            if change:
                services.membership_deactivate(membership=obj, actor=request.user)
                return
            raise ValidationError("A new membership is active; deactivate it afterwards if needed.")
        saved = services.membership_set(
            user=user,
            tenant=tenant,
            role=data["role"],
            clearance=data["clearance"],
            compartments=data.get("compartments") or [],
            actor=request.user,
        )
        obj.pk = saved.pk
        obj._state.adding = False


@admin.register(Source)
class SourceAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "kind", "tenant", "uri", "created_at")
    list_filter = ("tenant", "kind")
    search_fields = ("name", "uri")
    list_select_related = ("tenant",)


class EntityForm(forms.ModelForm):
    labels = forms.CharField(required=False, help_text="Comma-separated.")

    class Meta:
        model = Entity
        fields = ("tenant", "external_id", "kind", "display_name", "attributes", "sensitivity", "labels")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.initial["labels"] = ", ".join(self.instance.labels)
            for name in ("tenant", "external_id"):
                if name in self.fields:  # absent when the page is view-only
                    self.fields[name].disabled = True

    def clean_labels(self):
        return [x.strip() for x in self.cleaned_data["labels"].split(",") if x.strip()]

    def clean(self):
        data = super().clean()
        fields = ("kind", "display_name", "attributes", "sensitivity", "labels")
        if all(name in data for name in fields):
            try:
                services.validate_entity_fields(**{name: data[name] for name in fields})
            except ValidationError as exc:
                for field, errors in exc.error_dict.items():
                    self.add_error(field, errors)
        return data


class ProvenanceInline(admin.TabularInline):
    model = Provenance
    fk_name = "entity"
    extra = 0
    can_delete = False
    fields = ("source", "method", "fields", "record_ref", "actor", "recorded_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class UnlabelledRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id entity picker that never prints the chosen entity's name (Django's looks it up unscoped)."""

    def label_and_url_for_value(self, value):
        return "", ""


@admin.register(Entity)
class EntityAdmin(PolicyNamedAdminMixin, GuardedModelAdminMixin, ServiceBackedModelAdmin):
    """Staff see the entities the access policy shows them, attributes redacted as it says.

    "Object permissions" (django-guardian) shares one entity with a user or group beyond their
    clearance and compartments; the access layer honours it. Superusers see everything.
    """

    form = EntityForm
    list_display = ("name", "kind", "tenant", "sensitivity", "external_id", "merged_into_name", "updated_at")
    list_filter = ("tenant", "kind", "sensitivity", "created_at")
    search_fields = ("display_name", "external_id", "=id")
    list_select_related = ("tenant", "merged_into")
    readonly_fields = ("id", "merged_into_name", "created_at", "updated_at")
    named_entities = ("", "merged_into")
    inlines = [ProvenanceInline]
    show_full_result_count = False
    list_per_page = 50

    # Object grants share a record beyond clearance: only a tenant's administrators may manage them.
    def _may_grant(self, request, object_pk) -> bool:
        if request.user.is_superuser:
            return True
        subject = access.subject_for_request(request)
        entity = self.get_queryset(request).filter(pk=object_pk).only("tenant_id").first()
        if entity is not None and access.admin_change_allowed(
            subject=subject, tenant_id=entity.tenant_id, record_type="grant"
        ):
            return True
        audit.record(
            "access.denied",
            actor=request.user,
            tenant=entity.tenant_id if entity else None,
            target_type="core.entity",
            target_id=str(object_pk)[:64],
            payload={"action": "admin-change", "reason": "GRANT", "bundle": access.policy.current_bundle().sha256},
        )
        return False

    def obj_perms_manage_view(self, request, object_pk):
        if not self._may_grant(request, object_pk):
            raise PermissionDenied("Only the tenant's administrators manage object grants.")
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        if not self._may_grant(request, object_pk):
            raise PermissionDenied("Only the tenant's administrators manage object grants.")
        entity = self.get_queryset(request).filter(pk=object_pk).only("tenant_id").first()
        if (
            not request.user.is_superuser
            and not Membership.objects.filter(user_id=user_id, tenant_id=entity.tenant_id, is_active=True).exists()
        ):
            audit.record(
                "access.denied",
                actor=request.user,
                tenant=entity.tenant_id,
                target=entity,
                payload={
                    "action": "admin-change",
                    "reason": "GRANT_OUTSIDE_TENANT",
                    "user": str(user_id)[:20],
                    "bundle": access.policy.current_bundle().sha256,
                },
            )
            raise PermissionDenied("Records are shared only with members of their tenant.")
        response = super().obj_perms_manage_user_view(request, object_pk, user_id)
        self._audit_grant(request, entity, response, grantee={"user": str(user_id)})
        return response

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        if not self._may_grant(request, object_pk):
            raise PermissionDenied("Only the tenant's administrators manage object grants.")
        entity = self.get_queryset(request).filter(pk=object_pk).only("tenant_id").first()
        response = super().obj_perms_manage_group_view(request, object_pk, group_id)
        self._audit_grant(request, entity, response, grantee={"group": str(group_id)})
        return response

    @staticmethod
    def _audit_grant(request, entity, response, *, grantee) -> None:
        if request.method == "POST" and response.status_code == 302 and entity is not None:
            audit.record(
                "access.grant_changed",
                actor=request.user,
                tenant=entity.tenant_id,
                target_type="core.entity",
                target_id=str(entity.pk),
                payload={**grantee, "permissions": sorted(request.POST.getlist("permissions"))},
            )

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        return readable(subject=access.subject_for_request(request), action="search", queryset=queryset).queryset

    @admin.display(description="name", ordering="display_name")
    def name(self, obj):
        return self.entity_name(obj)

    @admin.display(description="merged into")
    def merged_into_name(self, obj):
        return self.entity_name(obj, "merged_into")

    def page_label(self, obj) -> str:
        return f"{self.entity_name(obj)} ({obj.kind})"

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser and self._redacted(request, obj):
            # A member who may not read every attribute may not edit them (nor a name built from them) either.
            fields += ["name", "attributes_you_may_read", "withheld_attributes"]
        return fields

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and not request.user.is_superuser and self._redacted(request, obj):
            hidden = ("display_name", "attributes", "name", "attributes_you_may_read", "withheld_attributes")
            position = fields.index("display_name")
            fields = [f for f in fields if f not in hidden]
            fields[position:position] = ["name", "attributes_you_may_read", "withheld_attributes"]
        return fields

    @staticmethod
    def _redacted(request, obj):
        """The policy's view of this entity for this user, kept on the (per-request) instance."""
        if not hasattr(obj, "_ig_redacted"):
            result = readable(subject=access.subject_for_request(request), action="read").page([obj]).entities
            obj._ig_redacted = result[0] if result and result[0].redactions else None
        return obj._ig_redacted

    @admin.display(description="Attributes you may read")
    def attributes_you_may_read(self, obj):
        import json

        return json.dumps(obj._ig_redacted.attributes, indent=1, ensure_ascii=False)

    @admin.display(description="Withheld by policy")
    def withheld_attributes(self, obj):
        return "; ".join(r.explanation for r in obj._ig_redacted.redactions)

    def get_search_results(self, request, queryset, search_term):
        import uuid

        if request.resolver_match.url_name == "autocomplete" and not request.user.is_superuser:
            # No entity picker uses autocomplete, and its JSON names entities by str(), not as the policy allows.
            return queryset.none(), False
        if search_term and self.search_fields[-1] == "=id":
            try:
                uuid.UUID(search_term)
            except ValueError:
                fields, self.search_fields = self.search_fields, self.search_fields[:-1]
                try:
                    return super().get_search_results(request, queryset, search_term)
                finally:
                    self.search_fields = fields
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            # Fields a member may not edit (withheld attributes, a name built from them) are not in the form.
            saved = services.entity_update(
                entity=obj,
                actor=request.user,
                **{
                    k: data[k] if k in data else getattr(obj, k)
                    for k in ("kind", "display_name", "attributes", "sensitivity", "labels")
                },
            )
        else:
            source = services.source_get_or_create(tenant=data["tenant"], name="Admin entry")
            saved = services.entity_create(
                tenant=data["tenant"],
                actor=request.user,
                external_id=data.get("external_id") or None,
                source=source,
                **{k: data[k] for k in ("kind", "display_name", "attributes", "sensitivity", "labels")},
            )
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.entity_delete(entity=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for entity in queryset:
            services.entity_delete(entity=entity, actor=request.user)


@admin.register(Relationship)
class RelationshipAdmin(PolicyNamedAdminMixin, ServiceBackedModelAdmin):
    """Relationships whose edge and both ends the policy lets the viewer see, the ends named as it allows."""

    list_display = ("kind", "from_name", "to_name", "tenant", "sensitivity", "updated_at")
    list_filter = ("tenant", "kind", "sensitivity")
    search_fields = ("kind", "external_id", "from_entity__display_name", "to_entity__display_name")
    list_select_related = ("tenant", "from_entity", "to_entity")
    raw_id_fields = ("from_entity", "to_entity")
    readonly_fields = ("id", "created_at", "updated_at")
    fields = (
        "tenant",
        "kind",
        "from_entity",
        "to_entity",
        "attributes",
        "sensitivity",
        "external_id",
        "id",
        "created_at",
        "updated_at",
    )
    show_full_result_count = False
    named_entities = ("from_entity", "to_entity")

    @admin.display(description="from")
    def from_name(self, obj):
        return self.entity_name(obj, "from_entity")

    @admin.display(description="to")
    def to_name(self, obj):
        return self.entity_name(obj, "to_entity")

    def page_label(self, obj) -> str:
        return f"{self.entity_name(obj, 'from_entity')} -[{obj.kind}]-> {self.entity_name(obj, 'to_entity')}"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return readable(subject=access.subject_for_request(request), action="search", queryset=queryset).queryset

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None:
            fields = [{"from_entity": "from_name", "to_entity": "to_name"}.get(f, f) for f in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        fixed = ("tenant", "from_name", "to_name", "external_id") if obj else ()
        return (*self.readonly_fields, *fixed)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in ("from_entity", "to_entity") and field is not None and not request.user.is_superuser:
            subject = access.subject_for_request(request)
            field.queryset = readable(subject=subject, action="search", queryset=field.queryset).queryset
            field.widget = UnlabelledRawIdWidget(db_field.remote_field, self.admin_site)
        return field

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.relationship_update(
                relationship=obj,
                actor=request.user,
                kind=data["kind"],
                attributes=data["attributes"],
                sensitivity=data["sensitivity"],
            )
            return
        if not request.user.is_superuser:
            # The form's choices are already the readable entities; this holds for any other caller too.
            findable = readable(subject=access.subject_for_request(request), action="search").queryset
            ends = {data["from_entity"].pk, data["to_entity"].pk}
            if findable.filter(pk__in=ends).count() < len(ends):
                raise ValidationError({"to_entity": "Both ends must be entities you can see."})
        saved = services.relationship_create(
            tenant=data["tenant"],
            kind=data["kind"],
            from_entity=data["from_entity"],
            to_entity=data["to_entity"],
            attributes=data["attributes"],
            sensitivity=data["sensitivity"],
            actor=request.user,
            external_id=data.get("external_id") or None,
            source=services.source_get_or_create(tenant=data["tenant"], name="Admin entry"),
        )
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.relationship_delete(relationship=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for relationship in queryset:
            services.relationship_delete(relationship=relationship, actor=request.user)


def _records_readable(request, queryset):
    """Provenance or ground truth of records the viewer may read (superusers: all)."""
    if request.user.is_superuser:
        return queryset
    subject = access.subject_for_request(request)
    condition = Q(entity__in=readable(subject=subject, action="search").queryset.values("pk"))
    if any(f.name == "relationship" for f in queryset.model._meta.fields):
        edges = readable(subject=subject, action="search", queryset=Relationship.objects.all())
        relationships = edges.queryset.values("pk")
        condition |= Q(relationship__in=relationships)
    return queryset.filter(condition)


class _RecordFactsAdmin(PolicyNamedAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Read-only facts about records (where they came from, what they truly are): listed only for records the
    viewer may read, the entity named as the policy allows."""

    @admin.display(description="entity")
    def entity_shown(self, obj):
        return self.entity_name(obj, "entity")

    def get_queryset(self, request):
        return _records_readable(request, super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Provenance)
class ProvenanceAdmin(_RecordFactsAdmin):
    list_display = ("recorded_at", "tenant", "source", "method", "entity_shown", "relationship", "record_ref")
    fields = (
        "tenant",
        "source",
        "method",
        "entity_shown",
        "relationship",
        "fields",
        "record_ref",
        "actor",
        "recorded_at",
    )
    readonly_fields = fields
    named_entities = ("entity",)
    list_filter = ("tenant", "method", "source")
    search_fields = ("record_ref", "=entity__id")
    raw_id_fields = ("entity", "relationship")
    list_select_related = ("tenant", "source", "entity", "relationship")
    show_full_result_count = False


@admin.register(GroundTruthLabel)
class GroundTruthLabelAdmin(_RecordFactsAdmin):
    list_display = ("identity", "entity_shown", "variation", "tenant")
    fields = ("tenant", "entity_shown", "identity", "variation")
    readonly_fields = fields
    named_entities = ("entity",)
    list_filter = ("tenant",)
    search_fields = ("identity",)
    raw_id_fields = ("entity",)
    list_select_related = ("tenant", "entity")
    show_full_result_count = False


def _is_int(value) -> bool:
    return isinstance(value, str) and value.isdigit() and len(value) < 19


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("user", "name", "expires_at", "developer")


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    tenant_lookup = "user__memberships__tenant"
    form = ApiTokenForm
    list_display = ("prefix", "name", "user", "developer", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("developer", "revoked_at")
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    actions = ["revoke"]
    autocomplete_fields = ("user",)

    def get_queryset(self, request):
        return super().get_queryset(request).distinct()

    def get_readonly_fields(self, request, obj=None):
        return (
            ("user", "name", "prefix", "developer", "created_at", "last_used_at", "expires_at", "revoked_at")
            if obj
            else ()
        )

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "POST" and not request.user.is_superuser:
            target = User.objects.filter(pk=request.POST["user"]).first() if _is_int(request.POST.get("user")) else None
            subject = access.subject_for_request(request)
            if target is not None and not access.user_manage_allowed(subject=subject, target=target):
                access.user_manage_denied(subject=subject, target=target, action="token-issue")
        return super().add_view(request, form_url, extra_context)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and field is not None:
            # A token acts as its user: only for accounts the actor may manage.
            field.queryset = access.users_manageable(
                subject=access.subject_for_request(request), queryset=field.queryset
            )
        return field

    def save_model(self, request, obj, form, change):
        if change:
            return
        subject = access.subject_for_request(request)
        if not access.user_manage_allowed(subject=subject, target=form.cleaned_data["user"]):
            access.user_manage_denied(subject=subject, target=form.cleaned_data["user"], action="token-issue")
            raise PermissionDenied("You may issue tokens only for accounts you manage.")
        token, raw = services.api_token_issue(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            actor=request.user,
            expires_at=form.cleaned_data.get("expires_at"),
            developer=form.cleaned_data.get("developer", False),
        )
        obj.pk = token.pk
        obj._state.adding = False
        self.message_user(request, f"Token created. Copy it now, it is not shown again: {raw}", level=messages.WARNING)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row stays as a record

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        subject = access.subject_for_request(request)
        revoked = refused = 0
        for token in queryset.select_related("user"):
            if access.user_manage_allowed(subject=subject, target=token.user):
                services.api_token_revoke(token=token, actor=request.user)
                revoked += 1
            else:
                access.user_manage_denied(subject=subject, target=token.user, action="token-revoke")
                refused += 1
        self.message_user(request, f"Revoked {revoked} token(s).")
        if refused:
            self.message_user(
                request,
                f"{refused} token(s) not revoked: they belong to accounts you do not manage.",
                level=messages.ERROR,
            )
