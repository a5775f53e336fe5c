"""Entity resolution writes: the model registry and rollout, thresholds, reviewers' decisions, merges and rollback.

Every change here is audited through apps.compliance (signed, hash-chained) and reaches the graph projection
through the outbox. Merges and rollbacks each run in one transaction: a rollback restores the exact prior
state of every row a merge touched, or nothing at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from prometheus_client import Counter

from apps.access import bundle as policy
from apps.access import services as access
from apps.access.errors import PurposeError
from apps.compliance import services as audit
from apps.core.choices import Role
from apps.core.models import Entity, Relationship, Tenant
from apps.er.models import (
    CandidatePair,
    Merge,
    ModelArtifact,
    ModelPin,
    NeverMerge,
    PairStatus,
    PinMode,
    TenantERSettings,
)
from apps.graph.live import publish_after_commit, publish_changes
from apps.graph.services import outbox_add

logger = logging.getLogger(__name__)

MODEL_STORAGE_DIR = "er-models"
# Counted when the transaction commits; rate(ig_er_merges_total[1h]) is the materialisation rate.
ER_MERGES = Counter("ig_er_merges_total", "Merges materialised by entity resolution.", ["tenant", "how"])
ER_ROLLBACKS = Counter("ig_er_rollbacks_total", "Merges undone by rollback.", ["tenant"])
ER_DECISIONS = Counter("ig_er_decisions_total", "Reviewer decisions on candidate pairs.", ["tenant", "decision"])


def _count(counter: Counter, *labels: str) -> None:
    transaction.on_commit(lambda: counter.labels(*labels).inc())


REVIEWER_RANK = {Role.READER: 0, Role.ANALYST: 1, Role.REVIEWER: 2, Role.COMPLIANCE: 3, Role.ADMIN: 4}


class ERError(ValidationError):
    """A refused ER action, with a message a reviewer can act on (admin shows it, commands print it)."""


class ModelIntegrityError(RuntimeError):
    """A registered model that cannot be used: its bytes do not hash to its address (tampered or corrupt), or
    this engine cannot read them (made for another feature set). Refused and audited."""


# --------------------------------------------------------------------------- registry


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entity_records(rows, kind: str) -> dict[str, dict]:
    """id -> the entity as the engine reads it (its attributes, with the display name as the name it may lack),
    from (pk, display_name, attributes) rows."""
    name_key = "full_name" if kind == "person" else "legal_name"
    return {str(pk): {name_key: name, **(attributes or {})} for pk, name, attributes in rows}


def model_register(*, data: bytes, model_id: str, metadata: dict | None = None, actor=None) -> ModelArtifact:
    """Store a model's canonical bytes under their SHA-256 and record the artifact (idempotent: same bytes,
    same artifact). Artifacts are immutable: nothing here ever changes one."""
    if not isinstance(data, bytes) or not data:
        raise ERError("A model artifact needs its bytes.", code="empty")
    model_id = (model_id or "").strip()[:100]
    if not model_id:
        raise ERError("Give the model a name (model_id).", code="required")
    sha = _sha256(data)
    existing = ModelArtifact.objects.filter(sha256=sha).first()
    if existing is not None:
        return existing
    stored = _store(f"{MODEL_STORAGE_DIR}/{sha}.model", data, sha)
    with transaction.atomic():
        artifact = ModelArtifact.objects.create(
            sha256=sha, model_id=model_id, uri=stored, size=len(data), metadata=metadata or {},
            author=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        audit.record(
            "er.model_registered", actor=actor, target=artifact,
            payload={"sha256": sha, "model_id": model_id, "size": len(data),
                     "metrics": (metadata or {}).get("metrics", {})},
        )  # fmt: skip
    return artifact


def _store(name: str, data: bytes, sha: str) -> str:
    """Write the bytes under their address; reuse a file already there only if it holds exactly these bytes."""
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            if _sha256(handle.read()) == sha:
                return name
    return default_storage.save(name, ContentFile(data))  # a damaged file is left; the storage picks a new name


def model_bytes(artifact: ModelArtifact) -> bytes:
    """The artifact's bytes, verified against its address; a mismatch is audited and refused."""
    try:
        with default_storage.open(artifact.uri, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        _integrity_failed(artifact, f"unreadable: {exc}")
        raise ModelIntegrityError(f"model {artifact.sha256[:12]} cannot be read: {exc}") from exc
    actual = _sha256(data)
    if actual != artifact.sha256:
        _integrity_failed(artifact, f"hash mismatch: stored bytes hash to {actual}")
        raise ModelIntegrityError(
            f"model {artifact.sha256[:12]} is corrupt or tampered with: its bytes hash to {actual[:12]}; refused"
        )
    return data


def _integrity_failed(artifact: ModelArtifact, problem: str) -> None:
    logger.error("ER model %s refused: %s", artifact.sha256, problem)
    audit.record("er.model_refused", target=artifact, payload={"sha256": artifact.sha256, "problem": problem})


_loaded: dict[str, object] = {}
_incompatible: dict[str, str] = {}  # SHA-256 -> why: immutable bytes this engine cannot read never become readable


def model_load(sha256: str):
    """The engine model with this address, loaded from verified bytes (cached: artifacts never change)."""
    from apps.er.engine import Model, ModelError  # the engine has no Django dependency; import it only when scoring

    if sha256 in _loaded:
        return _loaded[sha256]
    if sha256 in _incompatible:  # refused and audited once per process, not on every load
        raise ModelIntegrityError(_incompatible[sha256])
    artifact = ModelArtifact.objects.filter(sha256=sha256).first()
    if artifact is None:
        raise ModelIntegrityError(f"no registered model {sha256[:12]}")
    try:
        model = Model.from_bytes(model_bytes(artifact))
    except ModelError as exc:  # intact, but not for this engine (an older feature set): refused, not scored wrongly
        _integrity_failed(artifact, f"incompatible: {exc}")
        _incompatible[sha256] = f"model {artifact.sha256[:12]} cannot be used by this engine: {exc}"
        raise ModelIntegrityError(_incompatible[sha256]) from exc
    _loaded[sha256] = model
    return model


# --------------------------------------------------------------------------- pins and rollout


def pin_current(*, tenant: Tenant | None, mode: str = PinMode.ACTIVE) -> ModelPin | None:
    """The pin in force: the tenant's newest, or for active mode the GA default when the tenant has none."""
    own = ModelPin.objects.filter(tenant=tenant, mode=mode).select_related("artifact").first()
    if own is not None and (own.artifact_id or tenant is None or mode == PinMode.SHADOW):
        return own if own.artifact_id else None
    if tenant is not None and mode == PinMode.ACTIVE:
        return pin_current(tenant=None, mode=mode)
    return None


def _stage(tenant: Tenant | None, mode: str) -> str:
    if mode == PinMode.SHADOW:
        return "shadow"
    return "ga" if tenant is None else "canary"


# The admin-change record type that governs pins. policies/abac.rego has no "modelpin" row yet; tenant ER
# settings are admin-only, as pins are to be, so their row decides until it has one.
PIN_RECORD_TYPE = "modelpin"


def pin_allowed(*, actor, tenant: Tenant | None) -> bool:
    """May this user pin or revert models for this tenant? A pin for all tenants (GA) is for superusers only;
    a tenant's pin needs the admin-change policy's consent in that tenant. No actor: the system (commands)."""
    if not getattr(actor, "pk", None) or actor.is_superuser:
        return True
    if tenant is None:
        return False
    subject = access.subject_for(user=actor)
    return access.admin_change_allowed(subject=subject, tenant_id=tenant.pk, record_type=PIN_RECORD_TYPE)


def pin_refused(*, actor, tenant_id: int | None, requested: str = "") -> None:
    """Audit a refused pin or revert (the admin refuses it as a form error; the services raise)."""
    member = tenant_id is not None and actor.memberships.filter(tenant_id=tenant_id).exists()
    audit.record(
        "access.denied", actor=actor, tenant=tenant_id if member else None, target_type="er.modelpin",
        payload={"action": "admin-change", "record_type": "modelpin", "tenant": tenant_id,
                 "requested": requested[:100], "bundle": policy.current_bundle().sha256},
    )  # fmt: skip


def _require_pin_allowed(actor, tenant: Tenant | None) -> None:
    if pin_allowed(actor=actor, tenant=tenant):
        return
    pin_refused(actor=actor, tenant_id=tenant.pk if tenant else None, requested="all tenants" if tenant is None else "")
    where = "every tenant (GA) is for superusers only" if tenant is None else f"{tenant.slug} needs its admin role"
    raise ERError(f"Pinning a model for {where}.", code="forbidden")


def pin_set(*, tenant: Tenant | None, artifact: ModelArtifact | None, mode: str = PinMode.ACTIVE, actor=None,
            note: str = "") -> ModelPin:  # fmt: skip
    """Pin a model for a tenant (or, with no tenant, for all tenants: GA), in active or shadow mode."""
    if mode not in PinMode.values:
        raise ERError(f"Unknown mode {mode!r}; use active or shadow.", code="invalid_mode")
    _require_pin_allowed(actor, tenant)
    with transaction.atomic():
        previous = ModelPin.objects.select_for_update().filter(tenant=tenant, mode=mode).first()
        pin = ModelPin.objects.create(
            tenant=tenant, artifact=artifact, mode=mode, stage=_stage(tenant, mode), note=note[:300],
            actor=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        audit.record(
            "er.model_pinned", actor=actor, tenant=tenant, target=pin,
            payload={"sha256": artifact.sha256 if artifact else None, "mode": mode, "stage": pin.stage,
                     "previous": previous.artifact.sha256 if previous and previous.artifact_id else None},
        )  # fmt: skip
    return pin


def pin_revert(*, tenant: Tenant | None, mode: str = PinMode.ACTIVE, actor=None) -> ModelPin:
    """Go back to the model pinned before the current one (one click in the admin)."""
    _require_pin_allowed(actor, tenant)
    history = list(ModelPin.objects.filter(tenant=tenant, mode=mode).select_related("artifact")[:50])
    if not history:
        raise ERError("Nothing is pinned here; there is nothing to revert.", code="no_pin")
    current = history[0].artifact_id
    previous = next((p for p in history[1:] if p.artifact_id != current), None)
    if previous is None:
        if tenant is None or current is None:
            raise ERError("There is no earlier pin to go back to.", code="no_previous")
        # A tenant's first pin: reverting unpins it (active: back to the GA model; shadow: off).
        return pin_set(tenant=tenant, artifact=None, mode=mode, actor=actor, note="revert: unpinned")
    return pin_set(tenant=tenant, artifact=previous.artifact, mode=mode, actor=actor,
                   note=f"revert to {previous.artifact.sha256[:12] if previous.artifact_id else 'unpinned'}")  # fmt: skip


def rollout_of(artifact: ModelArtifact) -> dict:
    """Where a model is in force now: GA, canary tenants, shadow tenants."""
    ga = pin_current(tenant=None)
    result = {"ga": bool(ga and ga.artifact_id == artifact.pk), "canary": [], "shadow": []}
    tenant_ids = set(ModelPin.objects.filter(artifact=artifact).exclude(tenant=None).values_list("tenant", flat=True))
    for tenant in Tenant.objects.filter(pk__in=tenant_ids).order_by("slug"):
        active = ModelPin.objects.filter(tenant=tenant, mode=PinMode.ACTIVE).first()
        shadow = ModelPin.objects.filter(tenant=tenant, mode=PinMode.SHADOW).first()
        if active and active.artifact_id == artifact.pk:
            result["canary"].append(tenant.slug)
        if shadow and shadow.artifact_id == artifact.pk:
            result["shadow"].append(tenant.slug)
    return result


# --------------------------------------------------------------------------- thresholds


def settings_for(*, tenant: Tenant) -> TenantERSettings:
    found, _ = TenantERSettings.objects.get_or_create(tenant=tenant)
    return found


def thresholds_set(*, tenant: Tenant, auto_merge: float, review: float, actor=None,
                   auto_merge_enabled: bool | None = None) -> TenantERSettings:  # fmt: skip
    errors = {}
    for name, value in (("auto_merge_threshold", auto_merge), ("review_threshold", review)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            errors[name] = ValidationError("A probability between 0 and 1.", code="out_of_range")
    if not errors and review >= auto_merge:
        errors["review_threshold"] = ValidationError(
            "The review band must start below the auto-merge threshold.", code="order"
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = settings_for(tenant=tenant)
        before = {"auto": current.auto_merge_threshold, "review": current.review_threshold}
        current.auto_merge_threshold, current.review_threshold = float(auto_merge), float(review)
        if auto_merge_enabled is not None:
            current.auto_merge_enabled = bool(auto_merge_enabled)
        current.save()
        audit.record(
            "er.thresholds_changed", actor=actor, tenant=tenant, target=current,
            payload={"before": before, "after": {"auto": current.auto_merge_threshold,
                                                 "review": current.review_threshold},
                     "auto_merge_enabled": current.auto_merge_enabled},
        )  # fmt: skip
    return current


def what_if(*, tenant: Tenant, auto_merge: float, review: float) -> dict:
    """Before changing thresholds: how many recorded pairs would change fate (nothing is written)."""
    current = settings_for(tenant=tenant)
    pairs = CandidatePair.objects.filter(tenant=tenant).exclude(status__in=[PairStatus.REJECTED, PairStatus.SHADOW])
    now_auto = pairs.filter(score__gte=current.auto_merge_threshold)
    then_auto = pairs.filter(score__gte=auto_merge)
    now_review = pairs.filter(score__gte=current.review_threshold, score__lt=current.auto_merge_threshold)
    then_review = pairs.filter(score__gte=review, score__lt=auto_merge)
    return {
        "auto_merges_added": then_auto.exclude(score__gte=current.auto_merge_threshold).count(),
        "auto_merges_undone": now_auto.exclude(score__gte=auto_merge).count(),
        "review_before": now_review.count(),
        "review_after": then_review.count(),
    }


# --------------------------------------------------------------------------- never merge


def _ordered(a, b) -> tuple:
    a_id, b_id = getattr(a, "pk", a), getattr(b, "pk", b)
    return (a_id, b_id) if str(a_id) < str(b_id) else (b_id, a_id)


def never_merge_pairs(*, tenant_id: int, ids: Iterable) -> set[tuple[str, str]]:
    ids = [str(i) for i in ids]
    rows = NeverMerge.objects.filter(tenant_id=tenant_id, entity_a__in=ids, entity_b__in=ids)
    return {(str(a), str(b)) for a, b in rows.values_list("entity_a", "entity_b")}


# --------------------------------------------------------------------------- subjects and checks


def _require_reviewer(subject: access.Subject, tenant_id: int, action: str) -> None:
    membership = subject.memberships.get(tenant_id)
    if membership is None or REVIEWER_RANK.get(membership.role, 0) < REVIEWER_RANK[Role.REVIEWER]:
        raise ERError(f"{action} needs the reviewer role (or higher) in this tenant.", code="forbidden")


def _require_purpose(subject: access.Subject, tenant_id: int, action: str, target=None) -> None:
    try:
        access.purpose_require(subject=subject, tenant_id=tenant_id, action=action, target=target)
    except PurposeError as exc:
        raise ERError(str(exc), code="purpose") from None


def _require_visible(subject: access.Subject, *, tenant_id: int, entity_ids: Iterable, action: str, target=None,
                     what: str) -> None:  # fmt: skip
    """A reviewer decides only about records they may read: every entity must be visible to them for the action
    (not masked, not hidden). A refusal is audited and names no record; nothing has changed."""
    ids = {str(i) for i in entity_ids}
    entities = list(Entity.objects.filter(pk__in=ids))
    decisions = access.decide(subject=subject, resources=entities, action=action, fields=False)
    refused = [e for e in entities if decisions[e.pk].visibility != "visible"]
    if not refused and len(entities) == len(ids):
        return
    audit.record(
        "access.denied", actor=subject.user, tenant=tenant_id, target=target,
        payload={"action": action, "purpose": subject.purpose, "bundle": policy.current_bundle().sha256,
                 "denied": len(refused) + len(ids) - len(entities),
                 "reasons": dict(Tally(decisions[e.pk].reason for e in refused)),
                 "resources": sorted(str(e.pk) for e in refused)[:20]},
    )  # fmt: skip
    raise ERError(
        f"{what} needs you to be able to read every record involved, and at least one of them is not visible to "
        "you (clearance, compartment or grant); nothing was changed.",
        code="not_visible",
    )


# --------------------------------------------------------------------------- decisions


def _announce(pair_id: int) -> None:
    """Tell open decision-center pages what became of a pair (claim, decision), once the write commits."""
    from apps.er.consumers import queue_group

    row = CandidatePair.objects.filter(pk=pair_id).select_related("claimed_by").first()
    if row is None:
        return
    publish_after_commit(
        queue_group(row.tenant_id),
        {"type": "pair.changed", "pair": {"pair": row.pk, "status": row.status,
                                          "claimed_by": row.claimed_by.get_username() if row.claimed_by else None}},
    )  # fmt: skip


def pair_approve(*, subject: access.Subject, pair: CandidatePair, reason: str = "") -> Merge:
    """A reviewer approves a pair: checked (role, purpose, threshold, never-merge, claim), then merged."""
    _require_reviewer(subject, pair.tenant_id, "Approving a merge")
    if pair.status not in (PairStatus.PENDING, PairStatus.DEFERRED):
        raise ERError(f"This pair is already {pair.get_status_display().lower()}.", code="decided")
    if pair.claimed_by_id and pair.claimed_by_id != subject.user.pk:
        raise ERError(f"{pair.claimed_by} is working on this pair.", code="claimed")
    settings = settings_for(tenant=pair.tenant)
    if pair.score < settings.review_threshold:
        raise ERError(
            f"The score {pair.score:.3f} is below this tenant's review threshold ({settings.review_threshold:.2f}); "
            "it cannot be approved.",
            code="below_threshold",
        )
    _require_visible(subject, tenant_id=pair.tenant_id, entity_ids=[pair.entity_a_id, pair.entity_b_id],
                     action="merge", target=pair, what="Approving a merge")  # fmt: skip
    _require_purpose(subject, pair.tenant_id, "merge", target=pair)
    with transaction.atomic():
        locked = CandidatePair.objects.select_for_update().get(pk=pair.pk)
        if locked.status not in (PairStatus.PENDING, PairStatus.DEFERRED):
            raise ERError("Someone decided this pair a moment ago.", code="decided")
        merge = merge_materialize(
            tenant=pair.tenant, entities=[pair.entity_a, pair.entity_b], actor=subject.user, purpose=subject.purpose,
            pair=locked, model_sha=pair.model_sha, by_rules=pair.by_rules, score=pair.score,
            threshold=settings.review_threshold,
        )  # fmt: skip
        locked.status, locked.reason, locked.decided_by, locked.decided_at = (
            PairStatus.APPROVED,
            reason[:500],
            subject.user,
            timezone.now(),
        )
        locked.claimed_by = None
        locked.save()
        audit.record(
            "er.pair_approved", actor=subject.user, tenant=pair.tenant_id, target=locked,
            payload={"score": pair.score, "model": pair.model_sha, "reason": reason[:500], "merge": merge.pk,
                     "purpose": subject.purpose},
        )  # fmt: skip
        _announce(pair.pk)
        _count(ER_DECISIONS, pair.tenant.slug, "approved")
    return merge


def pair_reject(*, subject: access.Subject, pair: CandidatePair, reason: str) -> NeverMerge:
    """A rejection is a lasting 'never merge' constraint on the two entities."""
    _require_reviewer(subject, pair.tenant_id, "Rejecting a pair")
    reason = (reason or "").strip()
    if not reason:
        raise ERError("Say why these are not the same (the reason is kept with the never-merge constraint).",
                      code="reason_required")  # fmt: skip
    if pair.status not in (PairStatus.PENDING, PairStatus.DEFERRED):
        raise ERError(f"This pair is already {pair.get_status_display().lower()}.", code="decided")
    _require_visible(subject, tenant_id=pair.tenant_id, entity_ids=[pair.entity_a_id, pair.entity_b_id],
                     action="merge", target=pair, what="Rejecting a pair")  # fmt: skip
    with transaction.atomic():
        a, b = _ordered(pair.entity_a_id, pair.entity_b_id)
        constraint, _ = NeverMerge.objects.get_or_create(
            tenant_id=pair.tenant_id,
            entity_a_id=a,
            entity_b_id=b,
            defaults={"reason": reason[:500], "actor": subject.user},
        )
        CandidatePair.objects.filter(pk=pair.pk).update(
            status=PairStatus.REJECTED, reason=reason[:500], decided_by=subject.user, decided_at=timezone.now(),
            claimed_by=None,
        )  # fmt: skip
        audit.record("er.pair_rejected", actor=subject.user, tenant=pair.tenant_id, target=pair,
                     payload={"score": pair.score, "model": pair.model_sha, "reason": reason[:500]})  # fmt: skip
        _announce(pair.pk)
        _count(ER_DECISIONS, pair.tenant.slug, "rejected")
    return constraint


def pair_defer(*, subject: access.Subject, pair: CandidatePair, reason: str = "") -> CandidatePair:
    _require_reviewer(subject, pair.tenant_id, "Deferring a pair")
    _require_visible(subject, tenant_id=pair.tenant_id, entity_ids=[pair.entity_a_id, pair.entity_b_id],
                     action="merge", target=pair, what="Deferring a pair")  # fmt: skip
    CandidatePair.objects.filter(pk=pair.pk).update(status=PairStatus.DEFERRED, reason=reason[:500], claimed_by=None)
    audit.record("er.pair_deferred", actor=subject.user, tenant=pair.tenant_id, target=pair,
                 payload={"reason": reason[:500]})  # fmt: skip
    _announce(pair.pk)
    _count(ER_DECISIONS, pair.tenant.slug, "deferred")
    pair.refresh_from_db()
    return pair


def pair_claim(*, subject: access.Subject, pair: CandidatePair) -> CandidatePair:
    """Claim a pair so no other reviewer works on it at the same time (a claim older than 15 minutes lapses)."""
    _require_reviewer(subject, pair.tenant_id, "Claiming a pair")
    stale = timezone.now() - timezone.timedelta(minutes=15)
    taken = (
        CandidatePair.objects.filter(pk=pair.pk)
        .filter(Q(claimed_by=None) | Q(claimed_by=subject.user) | Q(claimed_at__lt=stale))
        .update(claimed_by=subject.user, claimed_at=timezone.now())
    )
    pair.refresh_from_db()
    if not taken:
        raise ERError(f"{pair.claimed_by} is working on this pair.", code="claimed")
    _announce(pair.pk)
    return pair


# --------------------------------------------------------------------------- merges


ENTITY_STATE = ("kind", "display_name", "attributes", "sensitivity", "labels", "merged_into_id")
EDGE_STATE = ("from_entity_id", "to_entity_id", "kind", "attributes", "sensitivity")


def _entity_state(entity: Entity) -> dict:
    state = {name: getattr(entity, name) for name in ENTITY_STATE}
    state["merged_into_id"] = str(state["merged_into_id"]) if state["merged_into_id"] else None
    return state


def _edge_state(edge: Relationship) -> dict:
    state = {name: getattr(edge, name) for name in EDGE_STATE}
    state["from_entity_id"], state["to_entity_id"] = str(state["from_entity_id"]), str(state["to_entity_id"])
    return state


def state_checksum(*, entity_ids: Iterable, edge_ids: Iterable) -> str:
    """SHA-256 over the current state of these entities and relationships (rows that do not exist count as absent)."""
    entity_ids, edge_ids = sorted({str(i) for i in entity_ids}), sorted({str(i) for i in edge_ids})
    entities = {str(e.pk): _entity_state(e) for e in Entity.objects.filter(pk__in=entity_ids)}
    edges = {str(r.pk): _edge_state(r) for r in Relationship.objects.filter(pk__in=edge_ids)}
    document = {
        "entities": [[i, entities.get(i)] for i in entity_ids],
        "relationships": [[i, edges.get(i)] for i in edge_ids],
    }
    return _sha256(json.dumps(document, sort_keys=True, default=str).encode())


def root_of(entity: Entity) -> Entity:
    """Follow merged_into to the canonical entity at the top of the chain."""
    seen = set()
    while entity.merged_into_id is not None and entity.pk not in seen:
        seen.add(entity.pk)
        entity = Entity.objects.get(pk=entity.merged_into_id)
    return entity


def _survivor_attributes(entities: list[Entity]) -> dict:
    """Survivorship (docs/er-operations.md): per attribute, the value most members agree on; ties go to the most
    recently updated member; values only one member has are kept."""
    votes: dict[str, dict[str, tuple[int, object, object]]] = {}
    for entity in entities:
        for name, value in (entity.attributes or {}).items():
            key = json.dumps(value, sort_keys=True, default=str)
            count, _, newest = votes.setdefault(name, {}).get(key, (0, value, entity.updated_at))
            votes[name][key] = (count + 1, value, max(newest, entity.updated_at))
    return {
        name: max(options.values(), key=lambda option: (option[0], option[2]))[1]
        for name, options in sorted(votes.items())
    }


def _canonical_fields(entities: list[Entity]) -> dict:
    named = max(entities, key=lambda e: (len(e.display_name), e.updated_at))
    return {
        "kind": entities[0].kind,
        "display_name": named.display_name,
        "attributes": _survivor_attributes(entities),
        "sensitivity": max(e.sensitivity for e in entities),  # the cluster is as sensitive as its most sensitive part
        "labels": sorted({label for e in entities for label in (e.labels or [])}),
    }


@dataclass
class MergePlan:
    tenant_id: int
    roots: list[Entity]
    target: Entity | None  # an existing canonical entity that absorbs the others, or None: create one
    absorbed: list[Entity] = field(default_factory=list)
    cluster_ids: set = field(default_factory=set)  # every member of every cluster involved, roots included


def _plan(tenant: Tenant, entities: list[Entity]) -> MergePlan:
    if len(entities) < 2:
        raise ERError("A merge needs at least two entities.", code="too_few")
    if any(e.tenant_id != tenant.pk for e in entities):
        raise ERError("All entities of a merge must belong to its tenant.", code="cross_tenant")
    roots = list({r.pk: r for r in (root_of(e) for e in entities)}.values())
    if len(roots) < 2:
        raise ERError("These entities are already merged into the same entity.", code="already_merged")
    if len({r.kind for r in roots}) > 1:
        raise ERError(f"Entities of different kinds ({', '.join(sorted({r.kind for r in roots}))}) cannot be merged.",
                      code="kinds_differ")  # fmt: skip
    # Every member of every cluster involved: a never-merge between any two of them blocks the merge.
    clusters = {r.pk: _cluster_ids(r) for r in roots}
    all_ids = [i for ids in clusters.values() for i in ids]
    blocked = never_merge_pairs(tenant_id=tenant.pk, ids=all_ids)
    owner = {str(i): root for root, ids in clusters.items() for i in ids}
    for a, b in blocked:
        if owner[a] != owner[b]:
            raise ERError(
                f"A reviewer decided that {a[:8]}… and {b[:8]}… are not the same; that never-merge constraint "
                "blocks this merge.",
                code="never_merge",
            )
    canonicals = [r for r in roots if Merge.objects.filter(canonical=r, rolled_back_at=None).exists()]
    target = min(canonicals, key=lambda r: r.created_at) if canonicals else None
    absorbed = [r for r in roots if target is None or r.pk != target.pk]
    return MergePlan(tenant.pk, roots, target, absorbed, {i for ids in clusters.values() for i in ids})


def _cluster_ids(root: Entity) -> list:
    ids, frontier = [root.pk], [root.pk]
    while frontier:
        frontier = list(Entity.objects.filter(merged_into__in=frontier).values_list("pk", flat=True))
        ids += frontier
    return ids


def merge_materialize(
    *, tenant: Tenant, entities: list[Entity], actor=None, purpose: str | None, pair: CandidatePair | None = None,
    model_sha: str = "", by_rules: bool = False, score: float | None = None, threshold: float | None = None,
    automatic: bool = False,
) -> Merge:  # fmt: skip
    """Merge entities (or the clusters they belong to) into one canonical entity, recording the exact prior state.

    An existing canonical entity absorbs the others and keeps its id (stable across re-runs); otherwise a new
    canonical entity is created. Members keep their rows (merged_into points at the canonical entity); the
    relationships of absorbed entities to the outside are re-pointed to the canonical entity, relationships
    inside the cluster stay where they are.
    """
    if purpose not in ("investigation", "fraud-risk"):
        raise ERError("A merge materialises only under the purpose investigation or fraud-risk.", code="purpose")
    with transaction.atomic():
        locked = list(Entity.objects.select_for_update().filter(pk__in=[e.pk for e in entities]))
        plan = _plan(tenant, locked)
        absorbed_ids = [e.pk for e in plan.absorbed]
        cluster_ids = plan.cluster_ids
        edges = list(Relationship.objects.filter(Q(from_entity__in=absorbed_ids) | Q(to_entity__in=absorbed_ids)))
        touched_entities = [*absorbed_ids, *([plan.target.pk] if plan.target else [])]
        snapshot = {
            "entities": {str(e.pk): _entity_state(e) for e in Entity.objects.filter(pk__in=touched_entities)},
            "relationships": {str(r.pk): _edge_state(r) for r in edges},
        }
        checksum = state_checksum(entity_ids=touched_entities, edge_ids=[r.pk for r in edges])
        created = plan.target is None
        if created:
            target = Entity.objects.create(tenant=tenant, **_canonical_fields(plan.roots))
        else:
            target = plan.target
            members = list(Entity.objects.filter(pk__in=cluster_ids))
            for name, value in _canonical_fields([target, *members]).items():
                setattr(target, name, value)
            target.save()
        Entity.objects.filter(pk__in=absorbed_ids).update(merged_into=target, updated_at=timezone.now())
        repointed = []
        for edge in edges:
            new_from = target.pk if edge.from_entity_id in absorbed_ids else edge.from_entity_id
            new_to = target.pk if edge.to_entity_id in absorbed_ids else edge.to_entity_id
            if new_from == new_to or {edge.from_entity_id, edge.to_entity_id} <= cluster_ids:
                continue  # inside the cluster: stays between its members
            Relationship.objects.filter(pk=edge.pk).update(from_entity=new_from, to_entity=new_to)
            repointed.append(edge.pk)
        merge = Merge.objects.create(
            tenant=tenant, canonical=target, created_canonical=created, members=absorbed_ids, snapshot=snapshot,
            checksum_before=checksum, pair=pair, model_sha=model_sha, by_rules=by_rules, score=score,
            threshold=threshold, automatic=automatic, purpose=purpose, policy_bundle=policy.current_bundle().sha256,
            approver=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        outbox_add(tenant_id=tenant.pk, kind="entity", ids=[target.pk, *absorbed_ids])
        outbox_add(tenant_id=tenant.pk, kind="relationship", ids=repointed)
        audit.record(
            "er.merged", actor=actor, tenant=tenant, target=target,
            payload={"merge": merge.pk, "members": [str(i) for i in absorbed_ids], "created": created,
                     "model": model_sha, "by_rules": by_rules, "score": score, "threshold": threshold,
                     "purpose": purpose, "automatic": automatic, "bundle": merge.policy_bundle,
                     "relationships_repointed": len(repointed), "checksum_before": checksum},
        )  # fmt: skip
        publish_changes(tenant_id=tenant.pk, changes=[{"id": i, "op": "merged", "into": target.pk} for i in absorbed_ids]
                        + ([{"id": target.pk, "op": "updated"}] if not created else []))  # fmt: skip
        _count(ER_MERGES, tenant.slug, ("rules" if by_rules else "auto") if automatic else "reviewer")
    return merge


# --------------------------------------------------------------------------- rollback


@dataclass
class RollbackPlan:
    merges: list[Merge]  # newest first: the order they are undone in
    entities: dict[str, dict]  # id -> {"now": state or None, "restored": state or None}
    relationships: dict[str, dict]

    @property
    def summary(self) -> str:
        chained = len(self.merges) - 1
        return (
            f"undo {len(self.merges)} merge(s)"
            + (f" ({chained} later merge(s) built on this one come undone first)" if chained else "")
            + f", restoring {len(self.entities)} entities and {len(self.relationships)} relationships"
        )


def _dependents(merge: Merge) -> list[Merge]:
    """Later merges still in force that built on this one (they touched its canonical entity or its members)."""
    touched = {str(merge.canonical_id), *map(str, merge.members)}
    found: list[Merge] = []
    later = list(Merge.objects.filter(tenant_id=merge.tenant_id, rolled_back_at=None, pk__gt=merge.pk).order_by("pk"))
    changed = True
    while changed:
        changed = False
        for candidate in later:
            if candidate in found:
                continue
            theirs = {str(candidate.canonical_id), *map(str, candidate.members), *candidate.snapshot["entities"]}
            if theirs & touched:
                found.append(candidate)
                touched |= theirs
                changed = True
    return sorted(found, key=lambda m: m.pk, reverse=True)


def rollback_plan(*, merge: Merge) -> RollbackPlan:
    """What a rollback would restore, merge by merge, without changing anything (the dry run)."""
    if merge.rolled_back_at:
        raise ERError(f"This merge was already rolled back on {merge.rolled_back_at:%Y-%m-%d %H:%M}.",
                      code="already_rolled_back")  # fmt: skip
    merges = [*_dependents(merge), merge]
    entities, relationships = {}, {}
    for undo in merges:  # newest first; the oldest snapshot of a row is what it returns to
        for pk, state in undo.snapshot["entities"].items():
            entities.setdefault(pk, {})["restored"] = state
        for pk, state in undo.snapshot["relationships"].items():
            relationships.setdefault(pk, {})["restored"] = state
        if undo.created_canonical:
            entities.setdefault(str(undo.canonical_id), {})["restored"] = None
    for pk, row in entities.items():
        entity = Entity.objects.filter(pk=pk).first()
        row["now"] = _entity_state(entity) if entity else None
    for pk, row in relationships.items():
        edge = Relationship.objects.filter(pk=pk).first()
        row["now"] = _edge_state(edge) if edge else None
    return RollbackPlan(merges, entities, relationships)


def _flat(state: dict | None) -> dict:
    """A row's state with its attributes one level down (``attributes.email``), for a field-by-field diff."""
    flat: dict = {}
    for key, value in (state or {}).items():
        if isinstance(value, dict) and key == "attributes":
            flat.update({f"attributes.{name}": inner for name, inner in value.items()})
        else:
            flat[key] = value
    return flat


def states_redacted(*, subject: access.Subject, tenant_id: int, entities: dict, relationships: dict) -> dict:
    """Recorded row states (a merge's snapshot, a rollback's before and after) as this subject may see them.

    Each state is decided by the policy as the record it describes (its own sensitivity and labels), in one call:
    a hidden record shows only NOT_VISIBLE_LABEL, a masked one its kind, a visible one its name as the subject may
    see it and every withheld attribute as WITHHELD_MARK. States that are None (absent rows) stay None.
    """
    rows = [
        Entity(pk=str(pk), tenant_id=tenant_id, kind=state.get("kind") or "", display_name=state.get("display_name") or "",
               attributes=state.get("attributes") or {}, sensitivity=state.get("sensitivity") or 0,
               labels=state.get("labels") or [])
        for pk, state in entities.items() if state is not None
    ] + [
        Relationship(pk=str(pk), tenant_id=tenant_id, kind=state.get("kind") or "",
                     sensitivity=state.get("sensitivity") or 0, attributes=state.get("attributes") or {})
        for pk, state in relationships.items() if state is not None
    ]  # fmt: skip
    decisions = access.decide(subject=subject, resources=rows, action="read")
    entity_rows = [r for r in rows if isinstance(r, Entity)]
    links = [
        (state["from_entity_id"], state["to_entity_id"])
        for state in relationships.values()
        if state and state.get("from_entity_id") and state.get("to_entity_id")
    ]
    decisions = access.with_linked_redactions(
        subject=subject, entities=entity_rows, decisions=decisions, action="read", links=links
    )
    by_pk = {(type(r).__name__, r.pk): r for r in rows}

    def entity_view(pk, state):
        entity, decision = by_pk[("Entity", str(pk))], decisions[str(pk)]
        if decision.visibility == "hidden":
            return {"display_name": access.NOT_VISIBLE_LABEL}
        view = access.RedactedEntity(entity, decision)
        if view.masked:
            return {"kind": entity.kind, "display_name": view.display_name}
        attributes = {k: access.WITHHELD_MARK if k in decision.redactions else v for k, v in entity.attributes.items()}
        return {**state, "display_name": view.display_name, "attributes": attributes}

    def edge_view(pk, state):
        if decisions[str(pk)].visibility != "visible":
            return {"kind": state.get("kind"), "visibility": access.NOT_VISIBLE_LABEL}
        return state

    return {
        "entities": {pk: None if state is None else entity_view(pk, state) for pk, state in entities.items()},
        "relationships": {pk: None if state is None else edge_view(pk, state) for pk, state in relationships.items()},
    }


def rollback_changes(plan: RollbackPlan, *, subject: access.Subject | None = None) -> list[dict]:
    """Per record the dry run would touch: what changes, field by field (``now`` -> ``after``), and whole states.

    ``change`` is "restored" (the row comes back as it was), "removed" (a canonical entity the merge created)
    or "reverted" (fields change back). With a ``subject``, every value shown is redacted as the policy says
    (``states_redacted``): which fields change is still shown, a value the subject may not see is not.
    """
    shown = {"now": plan_states(plan, "now"), "restored": plan_states(plan, "restored")}
    if subject is not None:
        tenant_id = plan.merges[0].tenant_id
        shown = {
            side: states_redacted(subject=subject, tenant_id=tenant_id, **states) for side, states in shown.items()
        }
    rows = []
    for kind, items in (("entity", plan.entities), ("relationship", plan.relationships)):
        group = "entities" if kind == "entity" else "relationships"
        for pk, states in sorted(items.items()):
            now, after = states.get("now"), states.get("restored")
            flat_now, flat_after = _flat(now), _flat(after)
            shown_now, shown_after = shown["now"][group][pk], shown["restored"][group][pk]
            show_now, show_after = _flat(shown_now), _flat(shown_after)

            def value(name, raw, seen):
                return seen.get(name, access.NOT_VISIBLE_LABEL if name in raw else None)

            changed = [n for n in sorted(set(flat_now) | set(flat_after)) if flat_now.get(n) != flat_after.get(n)]
            # Field names of a record the subject may not read say something too: those are folded into one line.
            named = [n for n in changed if n in show_now or n in show_after]
            fields = [
                {"field": name, "now": value(name, flat_now, show_now), "after": value(name, flat_after, show_after)}
                for name in named
            ]
            if len(named) < len(changed):
                fields.append({"field": "other fields", "now": access.NOT_VISIBLE_LABEL,
                               "after": access.NOT_VISIBLE_LABEL})  # fmt: skip
            change = "removed" if after is None else "restored" if now is None else "reverted"
            rows.append(
                {"kind": kind, "id": pk, "change": change, "fields": fields, "now": shown_now, "after": shown_after}
            )
    return rows


def plan_states(plan: RollbackPlan, side: str) -> dict:
    """One side of a dry run ("now" or "restored"): {"entities": {id: state}, "relationships": {id: state}}."""
    return {
        "entities": {pk: states.get(side) for pk, states in plan.entities.items()},
        "relationships": {pk: states.get(side) for pk, states in plan.relationships.items()},
    }


def merge_rollback(*, merge: Merge, subject: access.Subject, reason: str) -> RollbackPlan:
    """Undo a merge (and, first, later merges built on it) in one transaction, restoring the exact prior state."""
    _require_reviewer(subject, merge.tenant_id, "Rolling back a merge")
    reason = (reason or "").strip()
    if not reason:
        raise ERError("Say why the merge is being rolled back.", code="reason_required")
    _require_rollback_visible(subject, [merge])
    _require_purpose(subject, merge.tenant_id, "rollback", target=merge)
    with transaction.atomic():
        merge = Merge.objects.select_for_update().get(pk=merge.pk)
        plan = rollback_plan(merge=merge)
        for undo in plan.merges:
            _undo(undo, subject=subject, reason=reason)
        # The oldest merge's checksum covers its rows; they must be exactly as they were.
        oldest = plan.merges[-1]
        after = state_checksum(entity_ids=oldest.snapshot["entities"], edge_ids=oldest.snapshot["relationships"])
        if after != oldest.checksum_before:
            raise ERError("The rollback could not restore the exact prior state; nothing was changed.",
                          code="checksum")  # fmt: skip
        for undo in plan.merges:
            _count(ER_ROLLBACKS, undo.tenant.slug)
    return plan


def _require_rollback_visible(subject: access.Subject, merges: list[Merge]) -> None:
    """Rolling back rewrites every entity the merges (and the later ones built on them) touched: the reviewer
    must be able to read each of them as it is now (a canonical entity the merge created included)."""
    for merge in merges:
        if merge.rolled_back_at:
            continue  # rollback_plan refuses it with its own message
        plan = rollback_plan(merge=merge)
        _require_visible(subject, tenant_id=merge.tenant_id, action="rollback", target=merge,
                         entity_ids=[pk for pk, row in plan.entities.items() if row.get("now") is not None],
                         what="Rolling back a merge")  # fmt: skip


def _undo(merge: Merge, *, subject, reason: str) -> None:
    now = timezone.now()
    for pk, state in merge.snapshot["relationships"].items():
        Relationship.objects.filter(pk=pk).update(
            from_entity_id=state["from_entity_id"], to_entity_id=state["to_entity_id"]
        )
    for pk, state in merge.snapshot["entities"].items():
        Entity.objects.filter(pk=pk).update(**state, updated_at=now)
    deleted = False
    if merge.created_canonical:
        # The canonical entity this merge created goes with it, unless something else now rests on it.
        canonical = Entity.objects.filter(pk=merge.canonical_id).first()
        if canonical is not None and not (
            Entity.objects.filter(merged_into=canonical).exists()
            or Relationship.objects.filter(Q(from_entity=canonical) | Q(to_entity=canonical)).exists()
        ):
            canonical.delete()
            deleted = True
    Merge.objects.filter(pk=merge.pk).update(
        rolled_back_at=now, rolled_back_by=subject.user, rollback_reason=reason[:500]
    )
    if merge.pair_id:
        CandidatePair.objects.filter(pk=merge.pair_id).update(status=PairStatus.UNDONE)
    outbox_add(tenant_id=merge.tenant_id, kind="entity", ids=[*merge.snapshot["entities"], merge.canonical_id])
    outbox_add(tenant_id=merge.tenant_id, kind="relationship", ids=list(merge.snapshot["relationships"]))
    audit.record(
        "er.merge_rolled_back", actor=subject.user, tenant=merge.tenant_id, target=merge,
        payload={"merge": merge.pk, "canonical": str(merge.canonical_id), "members": [str(m) for m in merge.members],
                 "canonical_deleted": deleted, "reason": reason[:500], "purpose": subject.purpose,
                 "model": merge.model_sha},
    )  # fmt: skip
    publish_changes(
        tenant_id=merge.tenant_id,
        changes=[{"id": m, "op": "split"} for m in merge.members]
        + [{"id": merge.canonical_id, "op": "deleted" if deleted else "updated"}],
    )


def rollback_model(*, tenant: Tenant, model_sha: str, subject: access.Subject, reason: str) -> list[RollbackPlan]:
    """Undo everything one model version merged for a tenant (newest first), in one transaction."""
    _require_reviewer(subject, tenant.pk, "Rolling back a model's merges")
    # Checked before the transaction, so that a refusal's audit event is not rolled back with it.
    _require_rollback_visible(
        subject, list(Merge.objects.filter(tenant=tenant, model_sha=model_sha, rolled_back_at=None).order_by("-pk"))
    )
    with transaction.atomic():
        plans = []
        while True:
            merge = (
                Merge.objects.filter(tenant=tenant, model_sha=model_sha, rolled_back_at=None).order_by("-pk").first()
            )
            if merge is None:
                break
            plans.append(merge_rollback(merge=merge, subject=subject, reason=reason))
        if not plans:
            raise ERError(f"No merge by model {model_sha[:12]} is in force for {tenant.slug}.", code="nothing")
    return plans


def shadow_record(*, artifact: ModelArtifact, tenant_ids: Iterable[int] | None = None) -> dict:
    """How a model scored in shadow against what reviewers decided: agreement (its verdict, match above 0.5,
    against approve or reject), and the precision of the merges it would have made automatically (at each
    tenant's auto-merge threshold). ``tenant_ids``: only these tenants' pairs (None: every tenant)."""
    pairs = CandidatePair.objects.filter(shadow_model_sha=artifact.sha256, shadow_score__isnull=False)
    if tenant_ids is not None:
        pairs = pairs.filter(tenant_id__in=list(tenant_ids))
    decided = pairs.filter(status__in=[PairStatus.APPROVED, PairStatus.REJECTED]).select_related("tenant")
    thresholds = {}
    agree = would = would_right = 0
    total = 0
    for pair in decided:
        if pair.tenant_id not in thresholds:
            thresholds[pair.tenant_id] = settings_for(tenant=pair.tenant).auto_merge_threshold
        approved = pair.status == PairStatus.APPROVED
        merges = pair.shadow_score >= thresholds[pair.tenant_id]
        total += 1
        agree += int((pair.shadow_score >= 0.5) == approved)  # the model's own verdict: a match above 0.5
        would += int(merges)
        would_right += int(merges and approved)
    return {
        "scored": pairs.count(),
        "decided": total,
        "agreement": round(agree / total, 4) if total else None,
        "would_auto_merge": would,
        "precision": round(would_right / would, 4) if would else None,
    }


def what_if_model(*, tenant: Tenant, artifact: ModelArtifact, auto_merge: float | None = None) -> dict:
    """Before pinning a model for a tenant: rescore the tenant's recorded pairs with it (nothing is written) and
    count the automatic merges it would add or no longer make at the tenant's auto-merge threshold."""
    from apps.er import engine

    threshold = settings_for(tenant=tenant).auto_merge_threshold if auto_merge is None else auto_merge
    model = model_load(artifact.sha256)
    pairs = list(
        CandidatePair.objects.filter(tenant=tenant)
        .exclude(status=PairStatus.SHADOW)
        .select_related("entity_a", "entity_b")
        .only("score", "entity_a__kind", "entity_a__display_name", "entity_a__attributes", "entity_b__display_name",
              "entity_b__attributes")[:20_000]
    )  # fmt: skip
    added = undone = scored = 0
    for kind in {p.entity_a.kind for p in pairs} & set(engine.KINDS):
        subset = [p for p in pairs if p.entity_a.kind == kind]
        records = entity_records(
            ((e.pk, e.display_name, e.attributes) for p in subset for e in (p.entity_a, p.entity_b)), kind
        )
        new = engine.score_pairs(model, records, [(str(p.entity_a_id), str(p.entity_b_id)) for p in subset], kind=kind)
        for p, (_, _, probability) in zip(subset, new, strict=True):
            scored += 1
            before, after = p.score >= threshold, probability >= threshold
            added += int(after and not before)
            undone += int(before and not after)
    return {"pairs": scored, "auto_merges_added": added, "auto_merges_undone": undone, "threshold": threshold}


# --------------------------------------------------------------------------- evidence

# What an auditor asks of ER: who decided what, on which model and threshold, for which purpose, and what undid it.
EVIDENCE_EVENTS = (
    "er.pair_approved", "er.pair_rejected", "er.pair_deferred", "er.merged", "er.merge_rolled_back",
    "er.model_pinned", "er.thresholds_changed", "er.rules_fallback", "er.run",
)  # fmt: skip


def decision_events(*, tenant: Tenant, since=None, until=None):
    """The tenant's ER decision audit events (and the GA pins that applied to it), oldest first.

    ``since`` / ``until`` are aware datetimes (``until`` exclusive), either may be None.
    """
    from apps.compliance.models import AuditEvent

    events = AuditEvent.objects.filter(
        Q(tenant=tenant, event_type__in=EVIDENCE_EVENTS) | Q(tenant__isnull=True, event_type="er.model_pinned")
    )
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events.order_by("seq")
