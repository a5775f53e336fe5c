"""Builders for test data, one per model of our apps. They go through the services, as real writes do;
where no service writes a model (the engine writes candidate pairs in bulk), the builder writes the row as
that code does. tests/access/test_permission_matrix.py builds one row of every model of our apps through
these (``BUILDERS``), so a model added without a builder fails there."""

from __future__ import annotations

import itertools

from apps.core import services
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

_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


# --------------------------------------------------------------------------- core


def tenant(slug: str | None = None, **kwargs) -> Tenant:
    return services.tenant_create(slug=slug or f"tenant-{_n()}", **kwargs)


def user(
    *,
    tenant: Tenant,
    role: str = Role.ANALYST,
    clearance: int = Sensitivity.CONFIDENTIAL,
    username: str | None = None,
    password: str | None = None,
    staff: bool = False,
    superuser: bool = False,
    compartments=None,
    **kwargs,
) -> User:
    created = services.user_create(
        username=username or f"user{_n()}",
        tenant=tenant,
        role=role,
        clearance=clearance,
        password=password,
        **kwargs,
    )
    if compartments is not None:
        services.membership_set(user=created, tenant=tenant, role=role, clearance=clearance, compartments=compartments)
    if staff or superuser:
        created.is_staff = True
        created.is_superuser = superuser
        created.save(update_fields=["is_staff", "is_superuser"])
    return created


def membership(
    *, user: User, tenant: Tenant, role: str = Role.READER, clearance: int = Sensitivity.CONFIDENTIAL, compartments=None
) -> Membership:
    return services.membership_set(user=user, tenant=tenant, role=role, clearance=clearance, compartments=compartments)


def api_token(*, user: User, name: str | None = None, expires_at=None) -> tuple[ApiToken, str]:
    """The token row and its raw value (shown once, as the service returns it)."""
    return services.api_token_issue(user=user, name=name or f"token {_n()}", expires_at=expires_at)


def source(*, tenant: Tenant, name: str | None = None, **kwargs) -> Source:
    return services.source_get_or_create(tenant=tenant, name=name or f"source-{_n()}", **kwargs)


def entity(*, tenant: Tenant, kind: str = "person", name: str | None = None, **kwargs) -> Entity:
    return services.entity_create(tenant=tenant, kind=kind, display_name=name or f"Entity {_n()}", **kwargs)


def relationship(
    *,
    tenant: Tenant,
    kind: str = "associated_with",
    from_entity: Entity | None = None,
    to_entity: Entity | None = None,
    **kwargs,
) -> Relationship:
    return services.relationship_create(
        tenant=tenant,
        kind=kind,
        from_entity=from_entity or entity(tenant=tenant),
        to_entity=to_entity or entity(tenant=tenant),
        **kwargs,
    )


def provenance(*, tenant: Tenant, source_name: str | None = None, **entity_kwargs) -> Provenance:
    """An entity written from a source; the service records where its fields came from."""
    written = entity(tenant=tenant, source=source(tenant=tenant, name=source_name), **entity_kwargs)
    return Provenance.objects.get(entity=written)


def ground_truth_label(*, entity: Entity, identity: str | None = None, variation: str = "") -> GroundTruthLabel:
    """Written by the demo generator's loader in bulk; one row here."""
    return GroundTruthLabel.objects.create(
        tenant_id=entity.tenant_id, entity=entity, identity=identity or f"identity-{_n()}", variation=variation
    )


# --------------------------------------------------------------------------- access, search, versioning, audit


def tenant_purpose(*, tenant: Tenant, code: str | None = None, label: str = "", is_active: bool = True):
    from apps.access.models import TenantPurpose

    purpose, _ = TenantPurpose.objects.update_or_create(
        tenant=tenant,
        code=code or f"purpose-{_n()}",
        defaults={"label": label or "Test purpose", "is_active": is_active},
    )
    return purpose


def policy_bundle_version():
    from apps.access import decisions
    from apps.access.models import PolicyBundleVersion

    decisions._recorded_bundles.clear()  # a transactional test may have flushed the row this process remembers
    decisions.bundle_record_if_new()
    return PolicyBundleVersion.objects.latest("first_loaded_at")


def search_settings(*, tenant: Tenant, text_search_config: str = "simple"):
    from apps.search.models import TenantSearchSettings

    row, _ = TenantSearchSettings.objects.update_or_create(
        tenant=tenant, defaults={"text_search_config": text_search_config}
    )
    return row


def excluded_field():
    """The index's excluded fields follow the policy's governed fields."""
    from apps.search.models import ExcludedField
    from apps.search.services import excluded_fields_sync

    excluded_fields_sync()
    return ExcludedField.objects.order_by("name").first()


def deprecated_field_usage(*, field: str = "Query.example", user=None, token=None, operation: str = "ad-hoc"):
    """One executed use of a deprecated field, by a token (if given) or the user's session."""
    from apps.versioning.deprecations import client_of, usage_record
    from apps.versioning.models import DeprecatedFieldUsage

    user = user or (token.user if token is not None else _usage_owner())
    usage_record(fields=[field], user=user, token=token, operation=operation)
    return DeprecatedFieldUsage.objects.get(field=field, client=client_of(user=user, token=token), operation=operation)


def _usage_owner():
    return user(tenant=tenant(), username=f"usage-{_n()}")


def audit_event(*, event_type: str = "test.event", tenant: Tenant | None = None, actor=None, payload=None):
    from apps.audit import services as audit

    return audit.record(event_type, actor=actor, tenant=tenant, payload=payload or {})


def audit_signing_key():
    from apps.audit.models import AuditSigningKey

    audit_event()  # recording registers the signing key in use
    return AuditSigningKey.objects.order_by("created_at").first()


def _superuser():
    found = User.objects.filter(is_superuser=True).first()
    return found or User.objects.create_superuser(username=f"root{_n()}", password="x-" * 8)


def legal_hold(*, tenant: Tenant | None, actor=None, reason: str = "matter 2026-17", **scope):
    from apps.compliance import services as compliance

    return compliance.hold_place(actor=actor or _superuser(), tenant=tenant, reason=reason, **scope)


def retention_override(*, tenant: Tenant, event_type: str = "search.query", retention: str = "long-1825d", actor=None):
    from apps.compliance import services as compliance

    return compliance.retention_override_set(
        actor=actor or _superuser(), tenant=tenant, event_type=event_type, retention=retention, reason="regulator"
    )


def audit_tombstone():
    """A signed tombstone row as the purge writes one (tests/audit/test_retention.py makes real ones by purging;
    that needs the sealer's own transactions, which a test inside one cannot have)."""
    from django.utils import timezone

    from apps.audit import services as audit
    from apps.audit.models import AuditTombstone

    now = timezone.now()
    n = _n()
    tombstone = AuditTombstone(
        first=n * 1000 + 1, last=n * 1000 + 10, count=10, leaves_root="0" * 64,
        events_from=now, events_until=now, purged_at=now,
    )  # fmt: skip
    audit.tombstone_sign(tombstone)
    tombstone.save(force_insert=True)
    return tombstone


def outbox_event(*, tenant: Tenant):
    from apps.graph.models import OutboxEvent

    entity(tenant=tenant)
    return OutboxEvent.objects.filter(tenant_id=tenant.pk).latest("id")


# --------------------------------------------------------------------------- entity resolution


def model_artifact(*, model_id: str = "fs-default", data: bytes | None = None, actor=None):
    from apps.er import engine
    from apps.er import services as er

    return er.model_register(data=data or engine.default_model_bytes(), model_id=model_id, actor=actor)


def model_pin(*, tenant: Tenant | None, artifact=None, mode: str = "active", actor=None, note: str = ""):
    from apps.er import services as er

    return er.pin_set(tenant=tenant, artifact=artifact or model_artifact(), mode=mode, actor=actor, note=note)


def er_settings(*, tenant: Tenant, auto_merge: float | None = None, review: float | None = None, actor=None):
    """The tenant's saved ER thresholds (a read returns unsaved defaults; setting them writes the row)."""
    from apps.er import services as er

    current = er.settings_for(tenant=tenant)
    er.thresholds_set(
        tenant=tenant,
        auto_merge=current.auto_merge_threshold if auto_merge is None else auto_merge,
        review=current.review_threshold if review is None else review,
        actor=actor,
    )
    return er.settings_for(tenant=tenant)


def candidate_pair(
    *, tenant: Tenant | None = None, a: Entity | None = None, b: Entity | None = None, score: float = 0.9, **fields
):
    """A pair as the engine records it: the two entities in id order (the table's check constraint)."""
    from apps.er.models import CandidatePair

    if tenant is None:
        tenant = a.tenant if a is not None else globals()["tenant"]()
    first, second = sorted([a or entity(tenant=tenant), b or entity(tenant=tenant)], key=lambda e: str(e.pk))
    return CandidatePair.objects.create(tenant=tenant, entity_a=first, entity_b=second, score=score, **fields)


def reviewer(*, tenant: Tenant, clearance: int = Sensitivity.TOP_SECRET, **kwargs) -> User:
    return user(tenant=tenant, role=Role.REVIEWER, clearance=clearance, **kwargs)


def never_merge(
    *, pair=None, tenant: Tenant | None = None, reason: str = "different people", actor: User | None = None
):
    """A reviewer's rejection of a pair (the service writes the lasting constraint)."""
    from apps.access.services import subject_for
    from apps.er import services as er

    pair = pair or candidate_pair(tenant=tenant)
    actor = actor or reviewer(tenant=pair.tenant)
    return er.pair_reject(subject=subject_for(user=actor), pair=pair, reason=reason)


def merge(*, pair=None, tenant: Tenant | None = None, actor: User | None = None, purpose: str = "investigation"):
    """A reviewer's approval of a pair, materialised as a merge."""
    from apps.access.services import subject_for
    from apps.er import services as er

    pair = pair or candidate_pair(tenant=tenant)
    actor = actor or reviewer(tenant=pair.tenant)
    return er.pair_approve(subject=subject_for(user=actor, purpose=purpose), pair=pair)


# --------------------------------------------------------------------------- compliance


def access_review(*, tenant: Tenant, period: str = "2026-Q4", actor=None):
    from apps.compliance import services as compliance

    return compliance.access_review_launch(tenant=tenant, period=period, actor=actor)


def control(code: str = "CC6.2"):
    from apps.compliance.models import Control

    return Control.objects.get(code=code)


def control_applicability(*, tenant: Tenant, code: str = "CC9.1", actor=None):
    from apps.compliance import services as compliance

    return compliance.applicability_set(
        tenant=tenant, control=control(code), applicable=False, reason="not offered", actor=actor or _superuser()
    )


def control_attestation(*, tenant: Tenant | None, code: str = "CC1.1", actor=None):
    from datetime import date

    from apps.compliance import services as compliance

    return compliance.control_attest(
        control=control(code),
        tenant=tenant,
        statement="policy reviewed",
        effective_from=date(2026, 1, 1),
        effective_until=date(2026, 12, 31),
        actor=actor or _superuser(),
    )


def evidence_bundle(*, tenant: Tenant | None, period: str | None = None, actor=None):
    from django.utils import timezone

    from apps.compliance import services as compliance

    period = period or compliance.quarter_of(timezone.now())  # the tenant's creation is this quarter's evidence
    return compliance.evidence_bundle_request(tenant=tenant, period=period, actor=actor or _superuser())


# --------------------------------------------------------------------------- data safety (rows as services leave them)


def backup_policy():
    from apps.safety.models import BackupPolicy

    return BackupPolicy.current()


def backup(*, status: str = "good", kind: str = "full", started_at=None, parent=None, backup_id: str | None = None):
    """A backup row as backup_take records one (no files on disk: for pages, retention and matrix tests)."""
    import datetime

    from django.utils import timezone

    from apps.safety.models import Backup

    started_at = started_at or timezone.now() - datetime.timedelta(minutes=5)
    return Backup.objects.create(
        backup_id=backup_id or f"{started_at:%Y%m%dT%H%M%S}{next(_counter):04d}",
        kind=kind,
        parent=parent,
        status=status,
        trigger="command",
        started_at=started_at,
        finished_at=started_at + datetime.timedelta(seconds=30),
        duration_seconds=30.0,
        consistent_at=started_at + datetime.timedelta(seconds=30),
        size_bytes=1_000_000,
        encryption="OpenPGP (test row)",
    )


def graph_snapshot():
    from django.utils import timezone

    from apps.safety.models import GraphSnapshot

    return GraphSnapshot.objects.create(
        taken_at=timezone.now(), path="/nonexistent/graph.rdb.gpg", sha256="0" * 64, outbox_position=0
    )


def restore_point():
    from django.utils import timezone

    from apps.safety.models import RestorePoint

    return RestorePoint.objects.create(
        name=f"matrix-point-{next(_counter)}",
        created_at=timezone.now(),
        lsn="0/1000000",
        checksums={"core_tenant": {"rows": 2, "sum": "12", "tenants": {}}},
    )


def restore_drill(*, status: str = "passed", rto_seconds: float | None = 42.0):
    from django.utils import timezone

    from apps.audit import services as audit
    from apps.safety.drills import REPORT_FORMAT, STEPS
    from apps.safety.models import RestoreDrill

    drill = RestoreDrill.objects.create(
        status=status,
        trigger="command",
        started_at=timezone.now(),
        finished_at=timezone.now(),
        rto_seconds=rto_seconds,
        rpo_seconds=0.0,
        steps=[{"name": name, "title": title, "status": status} for name, title in STEPS],
    )
    drill.report = {"format": REPORT_FORMAT, "drill": drill.pk, "outcome": status, "rto_seconds": rto_seconds}
    drill.signature = audit.sign(audit.canonical_json(drill.report))
    drill.save(update_fields=["report", "signature"])
    return drill


# --------------------------------------------------------------------------- FinOps


def rate(*, feature: str = "search", unit: str = "request", price: str = "0.50", per: int = 1000, since=None):
    import datetime
    from decimal import Decimal

    from apps.finops.models import Rate

    return Rate.objects.create(
        feature=feature, unit=unit, price=Decimal(price), per=per,
        effective_from=since or datetime.date.today().replace(day=1),
    )  # fmt: skip


def budget(*, tenant: Tenant, total_cap=None, caps=()):
    from decimal import Decimal

    from apps.finops.models import Budget, BudgetCap

    made = Budget.objects.create(tenant=tenant, total_cap=total_cap)
    for category, amount, action in caps:
        BudgetCap.objects.create(budget=made, category=category, amount=Decimal(amount), action=action)
    return made


def budget_alert(*, tenant: Tenant):
    import datetime
    from decimal import Decimal

    from apps.finops.models import BudgetAlert

    made = getattr(tenant, "budget", None) or budget(tenant=tenant)
    return BudgetAlert.objects.create(
        budget=made, tenant=tenant, scope="total", threshold=80, period_start=datetime.date.today().replace(day=1),
        spent=Decimal(80), cap=Decimal(100), message="test",
    )  # fmt: skip


def usage(*, tenant: Tenant, feature: str = "search", unit: str = "request", quantity=10):
    import datetime

    from apps.finops.models import UsageDaily

    return UsageDaily.objects.create(
        tenant=tenant, day=datetime.date.today(), feature=feature, unit=unit, quantity=quantity
    )


def overage_request(*, tenant: Tenant, user=None):
    from decimal import Decimal

    from apps.finops.models import OverageRequest

    return OverageRequest.objects.create(
        tenant=tenant,
        scope="total",
        amount=Decimal(50),
        reason="test",
        requested_by=user or globals()["user"](tenant=tenant),
    )
