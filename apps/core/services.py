"""Writes of the core domain: the only path by which tenants, users, entities and relationships change.

Each service validates, writes inside ``transaction.atomic`` and records its
audit event, so the admin, the API, the importer and commands leave the same
trail. Entity and relationship writes add their transactional outbox rows in the same transaction
(``apps.core.outbox``: the graph projection and online entity resolution follow them) and publish
live changes to open Explorer canvases after commit (``intelgraph.realtime``). Writing many records at
once is ``apps.core.bulk``, which leaves the same trail with COPY.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from apps.access.roles import user_roles_sync
from apps.access.services import tenant_purposes_install_defaults
from apps.audit import services as audit
from apps.core.choices import EntityKind, ProvenanceMethod, Role, Sensitivity, SourceKind
from apps.core.models import ApiToken, Entity, Membership, Provenance, Relationship, Source, Tenant, User
from apps.core.outbox import outbox_add
from intelgraph.realtime import publish_changes

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_LABELS = 50
MAX_ATTRIBUTES_BYTES = 64 * 1024
MAX_ATTRIBUTE_NAME = 100  # Provenance.fields holds attribute names
ENTITY_KINDS = frozenset(EntityKind.values)  # computed once: validation runs per imported row
SENSITIVITIES = frozenset(Sensitivity.values)


# --------------------------------------------------------------------------- validation


def parse_sensitivity(value) -> int:
    """Accept 0-4 or a name such as 'confidential'; raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int) and value in SENSITIVITIES:
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "_").replace("-", "_")
        if text.isdigit() and int(text) in SENSITIVITIES:
            return int(text)
        for member in Sensitivity:
            if member.name.lower() == text:
                return member.value
    raise ValueError(value)


def _sensitivity_error(value) -> str:
    names = ", ".join(f"{m.value} ({m.name.lower()})" for m in Sensitivity)
    return f"Unknown sensitivity {value!r}; use one of {names}."


def _attributes_problem(attributes) -> ValidationError | None:
    if not isinstance(attributes, dict):
        return ValidationError("Attributes must be a JSON object.", code="invalid_attributes")
    if len(repr(attributes)) > MAX_ATTRIBUTES_BYTES:
        return ValidationError("Attributes are larger than 64 KiB.", code="too_large")
    bad = [k for k in attributes if not isinstance(k, str) or not k.strip() or len(k) > MAX_ATTRIBUTE_NAME]
    if bad:
        return ValidationError(
            f"Attribute names must be non-empty strings of at most {MAX_ATTRIBUTE_NAME} characters "
            f"({str(bad[0])[:20]!r} is not).",
            code="invalid_attributes",
        )
    return None


def validate_entity_fields(*, kind, display_name, attributes, sensitivity, labels) -> dict:
    """Return the cleaned fields or raise ValidationError naming each bad field."""
    errors: dict[str, list[ValidationError]] = {}
    if kind not in ENTITY_KINDS:
        errors["kind"] = [
            ValidationError(f"Unknown kind {kind!r}; use one of {', '.join(EntityKind.values)}.", code="invalid_kind")
        ]
    name = (display_name or "").strip() if isinstance(display_name, str) else ""
    if not name:
        errors["display_name"] = [ValidationError("A name is required.", code="required")]
    elif len(name) > 300:
        errors["display_name"] = [ValidationError("Names are at most 300 characters.", code="max_length")]
    attributes = {} if attributes is None else attributes
    if (problem := _attributes_problem(attributes)) is not None:
        errors["attributes"] = [problem]
    try:
        sensitivity = parse_sensitivity(sensitivity)
    except ValueError:
        errors["sensitivity"] = [ValidationError(_sensitivity_error(sensitivity), code="invalid_sensitivity")]
    labels = [] if labels is None else labels
    if not isinstance(labels, (list, tuple)) or any(not isinstance(x, str) or not x.strip() for x in labels):
        errors["labels"] = [ValidationError("Labels must be a list of non-empty strings.", code="invalid_labels")]
    elif len(labels) > MAX_LABELS or any(len(x) > 64 for x in labels):
        errors["labels"] = [ValidationError("At most 50 labels of 64 characters each.", code="invalid_labels")]
    if errors:
        raise ValidationError(errors)
    return {
        "kind": kind,
        "display_name": name,
        "attributes": attributes,
        "sensitivity": sensitivity,
        "labels": sorted({x.strip() for x in labels}),
    }


def validate_relationship_fields(*, kind, attributes, sensitivity) -> dict:
    errors: dict[str, list[ValidationError]] = {}
    if not isinstance(kind, str) or not KIND_RE.match(kind):
        errors["kind"] = [
            ValidationError(
                f"Relationship kind {kind!r} must be lower-case letters, digits and underscores, starting with a letter.",
                code="invalid_kind",
            )
        ]
    attributes = {} if attributes is None else attributes
    if (problem := _attributes_problem(attributes)) is not None:
        errors["attributes"] = [problem]
    try:
        sensitivity = parse_sensitivity(sensitivity)
    except ValueError:
        errors["sensitivity"] = [ValidationError(_sensitivity_error(sensitivity), code="invalid_sensitivity")]
    if errors:
        raise ValidationError(errors)
    return {"kind": kind, "attributes": attributes, "sensitivity": sensitivity}


# --------------------------------------------------------------------------- tenants and people


def tenant_created_record(*, tenant: Tenant, actor=None) -> None:
    audit.record("tenant.created", actor=actor, tenant=tenant, target=tenant, payload={"slug": tenant.slug})


def tenant_create(
    *, slug: str, name: str = "", actor=None, feature_flags: dict | None = None, audit_now: bool = True
) -> Tenant:
    """Create a tenant with its default purposes. ``audit_now=False`` is for a caller that records
    ``tenant_created_record`` itself later in the same transaction (bulk loads, which must not hold the audit
    chain's lock for their whole duration)."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise ValidationError(
            {"slug": ValidationError("Use 1-63 lower-case letters, digits and hyphens.", code="invalid_slug")}
        )
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": ValidationError(f"Tenant {slug!r} already exists.", code="duplicate")})
    with transaction.atomic():
        tenant = Tenant.objects.create(slug=slug, name=name or slug, feature_flags=feature_flags or {})
        tenant_purposes_install_defaults(tenant=tenant)
        if audit_now:
            tenant_created_record(tenant=tenant, actor=actor)
    return tenant


def membership_set(
    *, user: User, tenant: Tenant, role: str, actor=None, clearance: int | None = None, compartments=None
) -> Membership:
    if role not in Role.values:
        raise ValidationError(
            {
                "role": ValidationError(
                    f"Unknown role {role!r}; use one of {', '.join(Role.values)}.", code="invalid_role"
                )
            }
        )
    if clearance is not None:
        try:
            clearance = parse_sensitivity(clearance)
        except ValueError:
            raise ValidationError(
                {"clearance": ValidationError(_sensitivity_error(clearance), code="invalid_clearance")}
            ) from None
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            user=user, tenant=tenant, defaults={"role": role}
        )
        membership.role = role
        if clearance is not None:
            membership.clearance = clearance
        if compartments is not None:
            membership.compartments = sorted(set(compartments))
        membership.is_active = True
        membership.save()
        user_roles_sync(user=user)
        audit.record(
            "membership.created" if created else "membership.changed",
            actor=actor,
            tenant=tenant,
            target=membership,
            payload={"user": user.get_username(), "role": role, "clearance": membership.clearance},
        )
    return membership


def user_create(
    *,
    username: str,
    tenant: Tenant,
    role: str,
    actor=None,
    clearance: int | None = None,
    email: str = "",
    password: str | None = None,
) -> User:
    username = (username or "").strip()
    field = User._meta.get_field("username")
    try:
        field.run_validators(username)
        if not username:
            raise ValidationError("A username is required.", code="required")
    except ValidationError as exc:
        raise ValidationError({"username": exc.error_list}) from None
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": ValidationError(f"User {username!r} already exists.", code="duplicate")})
    with transaction.atomic():
        user = User(username=username, email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        membership_set(user=user, tenant=tenant, role=role, clearance=clearance, actor=actor)
        audit.record("user.created", actor=actor, tenant=tenant, target=user, payload={"username": username})
    return user


def membership_deactivate(*, membership: Membership, actor=None) -> Membership:
    """Take a member out of a tenant (the row stays, inactive, as a record); their role groups follow."""
    with transaction.atomic():
        # The caller's instance may already carry is_active=False (an admin form): the row decides.
        membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        if membership.is_active:
            membership.is_active = False
            membership.save(update_fields=["is_active", "updated_at"])
            user_roles_sync(user=membership.user)
            audit.record(
                "membership.deactivated",
                actor=actor,
                tenant=membership.tenant_id,
                target=membership,
                payload={"user": membership.user.get_username()},
            )
    return membership


USER_PROFILE_FIELDS = ("username", "first_name", "last_name", "email", "is_active")


def user_update(*, user: User, actor=None, changed: list[str]) -> User:
    """Save changes already made on ``user`` (e.g. by an admin form) and record which fields changed.

    Values are not recorded, only field names: an e-mail address is personal data."""
    with transaction.atomic():
        user.save()
        audit.record(
            "user.changed",
            actor=actor,
            target=user,
            payload={"user": user.get_username(), "fields": sorted(changed)},
        )
    return user


def user_password_set(*, user: User, actor=None) -> None:
    """Record that someone set ``user``'s password (the caller has just set and saved it)."""
    audit.record("user.password_set", actor=actor, target=user, payload={"user": user.get_username()})


# --------------------------------------------------------------------------- API tokens


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_issue(
    *, user: User, name: str, actor=None, expires_at=None, developer: bool = False
) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which is shown once and never stored.

    ``developer`` grants the scope to run ad-hoc operations where only persisted ones are allowed (production).
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ValidationError("Say what the token is for.", code="required")})
    raw = settings.API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=raw[:12],
            key_hash=_token_hash(raw),
            expires_at=expires_at,
            developer=bool(developer),
        )
        audit.record(
            "api_token.issued",
            actor=actor,
            target=token,
            payload={"user": user.get_username(), "name": name, "developer": bool(developer)},
        )
    return token, raw


def api_token_revoke(*, token: ApiToken, actor=None) -> ApiToken:
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record("api_token.revoked", actor=actor, target=token, payload={"user": token.user.get_username()})
    return token


def api_token_authenticate(*, raw: str) -> User | None:
    """The active user behind a bearer token, or None for an unknown, revoked or expired one."""
    token = api_token_active(raw=raw)
    return token.user if token is not None else None


def api_token_active(*, raw: str) -> ApiToken | None:
    """The active token (its user loaded) a bearer token's plaintext names, or None."""
    if not raw or not raw.startswith(settings.API_TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_token_hash(raw)).first()
    now = timezone.now()
    if token is None or token.revoked_at or (token.expires_at and token.expires_at <= now) or not token.user.is_active:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# --------------------------------------------------------------------------- sources and provenance


def source_get_or_create(*, tenant: Tenant, name: str, kind: str = SourceKind.MANUAL, uri: str = "") -> Source:
    source, _ = Source.objects.get_or_create(tenant=tenant, name=name[:200], defaults={"kind": kind, "uri": uri[:500]})
    return source


def _provenance(*, tenant, source, actor, method, entity=None, relationship=None, fields=(), record_ref=""):
    if source is None:
        return None
    return Provenance.objects.create(
        tenant=tenant,
        source=source,
        entity=entity,
        relationship=relationship,
        fields=list(fields),
        method=method,
        record_ref=record_ref[:300],
        actor=actor if getattr(actor, "pk", None) else None,
    )


# --------------------------------------------------------------------------- entities


def entity_create(
    *,
    tenant: Tenant,
    kind: str,
    display_name: str,
    actor=None,
    attributes: dict | None = None,
    sensitivity=Sensitivity.INTERNAL,
    labels: Iterable[str] = (),
    external_id: str | None = None,
    source: Source | None = None,
    method: str = ProvenanceMethod.MANUAL,
    record_ref: str = "",
) -> Entity:
    fields = validate_entity_fields(
        kind=kind, display_name=display_name, attributes=attributes, sensitivity=sensitivity, labels=labels
    )
    if external_id is not None and Entity.objects.filter(tenant=tenant, external_id=external_id).exists():
        raise ValidationError(
            {"external_id": ValidationError(f"An entity with external id {external_id!r} exists.", code="duplicate")}
        )
    with transaction.atomic():
        entity = Entity.objects.create(tenant=tenant, external_id=external_id, **fields)
        _provenance(
            tenant=tenant,
            source=source,
            actor=actor,
            method=method,
            entity=entity,
            fields=sorted(fields["attributes"]),
            record_ref=record_ref,
        )
        audit.record(
            "entity.created",
            actor=actor,
            tenant=tenant,
            target=entity,
            payload={"kind": entity.kind, "sensitivity": entity.sensitivity},
        )
        outbox_add(tenant_id=tenant.pk, kind="entity", ids=[entity.pk])
    return entity


ENTITY_EDITABLE = ("kind", "display_name", "attributes", "sensitivity", "labels")


def entity_update(
    *, entity: Entity, actor=None, source: Source | None = None, method: str = ProvenanceMethod.MANUAL, **changes
) -> Entity:
    unknown = set(changes) - set(ENTITY_EDITABLE)
    if unknown:
        raise ValidationError(
            {name: ValidationError("This field cannot be changed.", code="not_editable") for name in unknown}
        )
    merged = {name: changes.get(name, getattr(entity, name)) for name in ENTITY_EDITABLE}
    fields = validate_entity_fields(**merged)
    changed = sorted(name for name in ENTITY_EDITABLE if fields[name] != getattr(entity, name))
    if not changed:
        return entity
    with transaction.atomic():
        locked = Entity.objects.select_for_update().get(pk=entity.pk)
        before = {name: getattr(locked, name) for name in changed}
        for name in changed:
            setattr(locked, name, fields[name])
        locked.save(update_fields=[*changed, "updated_at"])
        changed_attrs = sorted(
            k
            for k in set(before.get("attributes", {})) | set(fields["attributes"])
            if "attributes" in changed and before["attributes"].get(k) != fields["attributes"].get(k)
        )
        _provenance(
            tenant=locked.tenant, source=source, actor=actor, method=method, entity=locked, fields=changed_attrs
        )
        audit.record(
            "entity.updated",
            actor=actor,
            tenant=locked.tenant_id,
            target=locked,
            payload={"fields": changed, "attributes": changed_attrs},
        )
        outbox_add(tenant_id=locked.tenant_id, kind="entity", ids=[locked.pk])
        publish_changes(tenant_id=locked.tenant_id, changes=[{"id": locked.pk, "op": "updated"}])
    return locked


def entity_delete(*, entity: Entity, actor=None) -> None:
    entity_id = entity.pk  # Model.delete() clears pk
    with transaction.atomic():
        relationship_count = (
            Relationship.objects.filter(from_entity=entity).count()
            + Relationship.objects.filter(to_entity=entity).count()
        )
        payload = {"kind": entity.kind, "relationships_removed": relationship_count}
        try:
            with transaction.atomic():
                entity.delete()
        except ProtectedError:
            raise ValidationError(
                "This entity has merged members; undo the merge before deleting it.", code="has_members"
            ) from None
        audit.record(
            "entity.deleted",
            actor=actor,
            tenant=entity.tenant_id,
            target_type="core.entity",
            target_id=str(entity_id),
            payload=payload,
        )
        # Deleting the node removes its edges from the projection too.
        outbox_add(tenant_id=entity.tenant_id, kind="entity", ids=[entity_id], op="delete")
        publish_changes(tenant_id=entity.tenant_id, changes=[{"id": entity_id, "op": "deleted"}])


# --------------------------------------------------------------------------- relationships


def relationship_create(
    *,
    tenant: Tenant,
    kind: str,
    from_entity: Entity,
    to_entity: Entity,
    actor=None,
    attributes: dict | None = None,
    sensitivity=Sensitivity.INTERNAL,
    external_id: str | None = None,
    source: Source | None = None,
    method: str = ProvenanceMethod.MANUAL,
    record_ref: str = "",
) -> Relationship:
    fields = validate_relationship_fields(kind=kind, attributes=attributes, sensitivity=sensitivity)
    errors = {}
    if from_entity.tenant_id != tenant.pk or to_entity.tenant_id != tenant.pk:
        errors["to_entity"] = [
            ValidationError("Both ends must belong to the relationship's tenant.", code="cross_tenant")
        ]
    if from_entity.pk == to_entity.pk:
        errors["to_entity"] = [ValidationError("A relationship links two different entities.", code="self_loop")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        relationship = Relationship.objects.create(
            tenant=tenant, from_entity=from_entity, to_entity=to_entity, external_id=external_id, **fields
        )
        _provenance(
            tenant=tenant, source=source, actor=actor, method=method, relationship=relationship, record_ref=record_ref
        )
        audit.record(
            "relationship.created",
            actor=actor,
            tenant=tenant,
            target=relationship,
            payload={"kind": relationship.kind, "from": str(from_entity.pk), "to": str(to_entity.pk)},
        )
        outbox_add(tenant_id=tenant.pk, kind="relationship", ids=[relationship.pk])
    return relationship


def relationship_update(*, relationship: Relationship, actor=None, **changes) -> Relationship:
    allowed = ("kind", "attributes", "sensitivity")
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationError(
            {name: ValidationError("This field cannot be changed.", code="not_editable") for name in unknown}
        )
    fields = validate_relationship_fields(**{name: changes.get(name, getattr(relationship, name)) for name in allowed})
    changed = sorted(name for name in allowed if fields[name] != getattr(relationship, name))
    if not changed:
        return relationship
    with transaction.atomic():
        for name in changed:
            setattr(relationship, name, fields[name])
        relationship.save(update_fields=[*changed, "updated_at"])
        audit.record(
            "relationship.updated",
            actor=actor,
            tenant=relationship.tenant_id,
            target=relationship,
            payload={"fields": changed},
        )
        outbox_add(tenant_id=relationship.tenant_id, kind="relationship", ids=[relationship.pk])
    return relationship


def relationship_delete(*, relationship: Relationship, actor=None) -> None:
    with transaction.atomic():
        payload = {"kind": relationship.kind}
        pk, tenant_id = relationship.pk, relationship.tenant_id
        relationship.delete()
        audit.record(
            "relationship.deleted",
            actor=actor,
            tenant=tenant_id,
            target_type="core.relationship",
            target_id=str(pk),
            payload=payload,
        )
        outbox_add(tenant_id=tenant_id, kind="relationship", ids=[pk], op="delete")
