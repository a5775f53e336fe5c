"""Entity resolution reads: the models in force and their bytes, thresholds and their what-if previews, the
shadow record, never-merge constraints, row states and rollback dry runs, the decision center's side-by-side
view of a pair, and the audit events that are ER evidence.

Nothing here changes a row. Two reads still record an audit event, as every refused read does: a model whose
bytes fail verification (``model_bytes``, ``model_load``). The errors raised by ER reads and writes live here,
at the bottom, so that ``apps.er.services`` (which re-exports them) may import this module and never the
other way round.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import Q

from apps.access import services as access
from apps.access.selectors import NOT_VISIBLE_LABEL, WITHHELD_MARK, RedactedEntity, readable
from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.core.models import Entity, Provenance, Relationship, Tenant
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

logger = logging.getLogger(__name__)


class ERError(ValidationError):
    """A refused ER action, with a message a reviewer can act on (admin shows it, commands print it)."""


class ModelIntegrityError(RuntimeError):
    """A registered model that cannot be used: its bytes do not hash to its address (tampered or corrupt), or
    this engine cannot read them (made for another feature set). Refused and audited."""


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of these bytes as hex: a model artifact's address, a state checksum."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- registry: models and their bytes


def entity_records(rows, kind: str) -> dict[str, dict]:
    """id -> the entity as the engine reads it (its attributes, with the display name as the name it may lack),
    from (pk, display_name, attributes) rows."""
    name_key = "full_name" if kind == "person" else "legal_name"
    return {str(pk): {name_key: name, **(attributes or {})} for pk, name, attributes in rows}


def model_bytes(artifact: ModelArtifact) -> bytes:
    """The artifact's bytes, verified against its address; a mismatch is audited and refused."""
    try:
        with default_storage.open(artifact.uri, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        _integrity_failed(artifact, f"unreadable: {exc}")
        raise ModelIntegrityError(f"model {artifact.sha256[:12]} cannot be read: {exc}") from exc
    actual = sha256_hex(data)
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

# The admin-change record type that governs pins. policies/abac.rego has no "modelpin" row yet; tenant ER
# settings are admin-only, as pins are to be, so their row decides until it has one.
PIN_RECORD_TYPE = "modelpin"


def pin_current(*, tenant: Tenant | None, mode: str = PinMode.ACTIVE) -> ModelPin | None:
    """The pin in force: the tenant's newest, or for active mode the GA default when the tenant has none."""
    own = ModelPin.objects.filter(tenant=tenant, mode=mode).select_related("artifact").first()
    if own is not None and (own.artifact_id or tenant is None or mode == PinMode.SHADOW):
        return own if own.artifact_id else None
    if tenant is not None and mode == PinMode.ACTIVE:
        return pin_current(tenant=None, mode=mode)
    return None


def pin_allowed(*, actor, tenant: Tenant | None) -> bool:
    """May this user pin or revert models for this tenant? A pin for all tenants (GA) is for superusers only;
    a tenant's pin needs the admin-change policy's consent in that tenant. No actor: the system (commands)."""
    if not getattr(actor, "pk", None) or actor.is_superuser:
        return True
    if tenant is None:
        return False
    subject = access.subject_for(user=actor)
    return access.admin_change_allowed(subject=subject, tenant_id=tenant.pk, record_type=PIN_RECORD_TYPE)


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


# --------------------------------------------------------------------------- thresholds


def settings_for(*, tenant: Tenant) -> TenantERSettings:
    """The tenant's ER thresholds: its saved row, or the defaults (unsaved) until an administrator sets them.

    A read never creates the row: opening the decision center writes nothing (``thresholds_set`` does)."""
    found = TenantERSettings.objects.filter(tenant=tenant).first()
    return found if found is not None else TenantERSettings(tenant=tenant)


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


def what_if_model(*, tenant: Tenant, artifact: ModelArtifact, auto_merge: float | None = None) -> dict:
    """Before pinning a model for a tenant: rescore the tenant's recorded pairs with it (nothing is written) and
    count the automatic merges it would add or no longer make at the tenant's auto-merge threshold."""
    from apps.er import engine  # the engine has no Django dependency; import it only when scoring

    threshold = settings_for(tenant=tenant).auto_merge_threshold if auto_merge is None else auto_merge
    model = model_load(artifact.sha256)
    pairs = list(
        CandidatePair.objects.filter(tenant=tenant)
        .exclude(status=PairStatus.SHADOW)
        .select_related("entity_a", "entity_b")
        .only(
            "score",
            "entity_a__kind",
            "entity_a__display_name",
            "entity_a__attributes",
            "entity_b__display_name",
            "entity_b__attributes",
        )[:20_000]
    )
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


# --------------------------------------------------------------------------- never merge


def ordered_pair(a, b) -> tuple:
    """Two entities (or their ids) as a never-merge constraint stores them: the smaller id first."""
    a_id, b_id = getattr(a, "pk", a), getattr(b, "pk", b)
    return (a_id, b_id) if str(a_id) < str(b_id) else (b_id, a_id)


def never_merge_pairs(*, tenant_id: int, ids: Iterable) -> set[tuple[str, str]]:
    """The never-merge constraints between any two of these entities, as (smaller id, larger id) strings."""
    ids = [str(i) for i in ids]
    rows = NeverMerge.objects.filter(tenant_id=tenant_id, entity_a__in=ids, entity_b__in=ids)
    return {(str(a), str(b)) for a, b in rows.values_list("entity_a", "entity_b")}


# --------------------------------------------------------------------------- row states and merge clusters

ENTITY_STATE = ("kind", "display_name", "attributes", "sensitivity", "labels", "merged_into_id")
EDGE_STATE = ("from_entity_id", "to_entity_id", "kind", "attributes", "sensitivity")


def entity_state(entity: Entity) -> dict:
    """The fields of an entity a merge changes and a rollback restores, as a merge's snapshot records them."""
    state = {name: getattr(entity, name) for name in ENTITY_STATE}
    state["merged_into_id"] = str(state["merged_into_id"]) if state["merged_into_id"] else None
    return state


def edge_state(edge: Relationship) -> dict:
    """The fields of a relationship a merge changes and a rollback restores."""
    state = {name: getattr(edge, name) for name in EDGE_STATE}
    state["from_entity_id"], state["to_entity_id"] = str(state["from_entity_id"]), str(state["to_entity_id"])
    return state


def state_checksum(*, entity_ids: Iterable, edge_ids: Iterable) -> str:
    """SHA-256 over the current state of these entities and relationships (rows that do not exist count as absent)."""
    entity_ids, edge_ids = sorted({str(i) for i in entity_ids}), sorted({str(i) for i in edge_ids})
    entities = {str(e.pk): entity_state(e) for e in Entity.objects.filter(pk__in=entity_ids)}
    edges = {str(r.pk): edge_state(r) for r in Relationship.objects.filter(pk__in=edge_ids)}
    document = {
        "entities": [[i, entities.get(i)] for i in entity_ids],
        "relationships": [[i, edges.get(i)] for i in edge_ids],
    }
    return sha256_hex(json.dumps(document, sort_keys=True, default=str).encode())


def root_of(entity: Entity) -> Entity:
    """Follow merged_into to the canonical entity at the top of the chain."""
    seen = set()
    while entity.merged_into_id is not None and entity.pk not in seen:
        seen.add(entity.pk)
        entity = Entity.objects.get(pk=entity.merged_into_id)
    return entity


def cluster_ids(root: Entity) -> list:
    """The canonical entity's id and the ids of every entity merged into it, directly or down a chain."""
    ids, frontier = [root.pk], [root.pk]
    while frontier:
        frontier = list(Entity.objects.filter(merged_into__in=frontier).values_list("pk", flat=True))
        ids += frontier
    return ids


def states_redacted(*, subject: access.Subject, tenant_id: int, entities: dict, relationships: dict) -> dict:
    """Recorded row states (a merge's snapshot, a rollback's before and after) as this subject may see them.

    Each state is decided by the policy as the record it describes (its own sensitivity and labels), in one call:
    a hidden record shows only NOT_VISIBLE_LABEL, a masked one its kind, a visible one its name as the subject may
    see it and every withheld attribute as WITHHELD_MARK. States that are None (absent rows) stay None.
    """
    rows = [
        Entity(
            pk=str(pk),
            tenant_id=tenant_id,
            kind=state.get("kind") or "",
            display_name=state.get("display_name") or "",
            attributes=state.get("attributes") or {},
            sensitivity=state.get("sensitivity") or 0,
            labels=state.get("labels") or [],
        )
        for pk, state in entities.items()
        if state is not None
    ] + [
        Relationship(
            pk=str(pk),
            tenant_id=tenant_id,
            kind=state.get("kind") or "",
            sensitivity=state.get("sensitivity") or 0,
            attributes=state.get("attributes") or {},
        )
        for pk, state in relationships.items()
        if state is not None
    ]
    links = [
        (state["from_entity_id"], state["to_entity_id"])
        for state in relationships.values()
        if state and state.get("from_entity_id") and state.get("to_entity_id")
    ]
    decisions = readable(subject=subject, action="read").page(rows, links=links).decisions
    by_pk = {(type(r).__name__, r.pk): r for r in rows}

    def entity_view(pk, state):
        entity, decision = by_pk[("Entity", str(pk))], decisions[str(pk)]
        if decision.visibility == "hidden":
            return {"display_name": NOT_VISIBLE_LABEL}
        view = RedactedEntity(entity, decision)
        if view.masked:
            return {"kind": entity.kind, "display_name": view.display_name}
        attributes = {k: WITHHELD_MARK if k in decision.redactions else v for k, v in entity.attributes.items()}
        return {**state, "display_name": view.display_name, "attributes": attributes}

    def edge_view(pk, state):
        if decisions[str(pk)].visibility != "visible":
            return {"kind": state.get("kind"), "visibility": NOT_VISIBLE_LABEL}
        return state

    return {
        "entities": {pk: None if state is None else entity_view(pk, state) for pk, state in entities.items()},
        "relationships": {pk: None if state is None else edge_view(pk, state) for pk, state in relationships.items()},
    }


# --------------------------------------------------------------------------- rollback dry runs


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
        raise ERError(
            f"This merge was already rolled back on {merge.rolled_back_at:%Y-%m-%d %H:%M}.",
            code="already_rolled_back",
        )
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
        row["now"] = entity_state(entity) if entity else None
    for pk, row in relationships.items():
        edge = Relationship.objects.filter(pk=pk).first()
        row["now"] = edge_state(edge) if edge else None
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


def plan_states(plan: RollbackPlan, side: str) -> dict:
    """One side of a dry run ("now" or "restored"): {"entities": {id: state}, "relationships": {id: state}}."""
    return {
        "entities": {pk: states.get(side) for pk, states in plan.entities.items()},
        "relationships": {pk: states.get(side) for pk, states in plan.relationships.items()},
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
                return seen.get(name, NOT_VISIBLE_LABEL if name in raw else None)

            changed = [n for n in sorted(set(flat_now) | set(flat_after)) if flat_now.get(n) != flat_after.get(n)]
            # Field names of a record the subject may not read say something too: those are folded into one line.
            named = [n for n in changed if n in show_now or n in show_after]
            fields = [
                {"field": name, "now": value(name, flat_now, show_now), "after": value(name, flat_after, show_after)}
                for name in named
            ]
            if len(named) < len(changed):
                fields.append({"field": "other fields", "now": NOT_VISIBLE_LABEL, "after": NOT_VISIBLE_LABEL})
            change = "removed" if after is None else "restored" if now is None else "reverted"
            rows.append(
                {"kind": kind, "id": pk, "change": change, "fields": fields, "now": shown_now, "after": shown_after}
            )
    return rows


# --------------------------------------------------------------------------- the decision center's pair view


@dataclass
class PairView:
    """A candidate pair as one reviewer may see it in the decision center.

    ``names``: entity id -> the name to show (NOT_VISIBLE_LABEL for a record the reviewer may not read);
    ``rows``: the side-by-side attributes (``name``, ``a``, ``b``, ``differs``), redacted values saying so;
    ``waterfall``: each feature's contribution to the score, laid out for a bar chart; ``provenance``: where the
    readable records came from and which model (at which rollout stage) scored the pair; ``both_visible``: the
    reviewer may read both records, so may decide (and claim) the pair."""

    names: dict
    rows: list[dict]
    waterfall: list[dict]
    provenance: dict
    both_visible: bool
    readable_ids: list = field(default_factory=list)


def _pair_records(subject: access.Subject, pair: CandidatePair) -> tuple[dict, dict, list, bool]:
    """Both records of a pair as this subject may see them, in one policy call (a superuser sees them raw):
    (entity id -> its view, entity id -> the name to show, the ids of records the subject may read, raw)."""
    entities = [pair.entity_a, pair.entity_b]
    if getattr(subject.user, "is_superuser", False):
        return {e.pk: e for e in entities}, {e.pk: e.display_name for e in entities}, [e.pk for e in entities], True
    by_pk = {r.entity.pk: r for r in readable(subject=subject, action="read").page(entities).entities}
    names = {e.pk: by_pk[e.pk].display_name if e.pk in by_pk else NOT_VISIBLE_LABEL for e in entities}
    return by_pk, names, [pk for pk, view in by_pk.items() if not view.masked], False


def pair_readable(*, subject: access.Subject, pair: CandidatePair) -> bool:
    """May this subject read both records of the pair (not hidden, not masked)? Only then may they claim or
    decide it."""
    _, _, readable_ids, _ = _pair_records(subject, pair)
    return {pair.entity_a_id, pair.entity_b_id} <= set(readable_ids)


def pair_side_by_side(*, subject: access.Subject, pair: CandidatePair) -> PairView:
    """Both records of a pair as this subject may see them, side by side with their differences marked, with
    the score's breakdown and the readable records' provenance."""
    by_pk, names, readable_ids, raw = _pair_records(subject, pair)
    return PairView(
        names=names,
        rows=_side_by_side(pair, by_pk, names, raw=raw),
        waterfall=score_waterfall(pair),
        provenance=_pair_provenance(pair, readable_ids),
        both_visible={pair.entity_a_id, pair.entity_b_id} <= set(readable_ids),
        readable_ids=readable_ids,
    )


def _side_by_side(pair: CandidatePair, by_pk: dict, names: dict, *, raw: bool) -> list[dict]:
    """Attributes of both records as the reviewer may see them (redacted ones say so), differences marked.
    Attribute names come only from records the reviewer may read: a hidden record's keys say something too."""
    left, right = by_pk.get(pair.entity_a_id), by_pk.get(pair.entity_b_id)

    def readable(view):
        return view is not None and (raw or not view.masked)

    def value(view, name):
        if not readable(view):
            return NOT_VISIBLE_LABEL
        if raw:
            return (view.attributes or {}).get(name, "")
        if name in view.decision.redactions:
            return f"redacted: {view.decision.redactions[name].reason}"
        return view.attributes.get(name, "")

    attribute_names = set()
    for view in (left, right):
        if readable(view):
            attribute_names |= set(view.attributes or {}) if raw else {*view.attributes, *view.decision.redactions}
    rows = [("name", names[pair.entity_a_id], names[pair.entity_b_id])]
    rows += [(n, value(left, n), value(right, n)) for n in sorted(attribute_names)]
    return [{"name": n, "a": a, "b": b, "differs": a != b} for n, a, b in rows]


def score_waterfall(pair: CandidatePair) -> list[dict]:
    """The pair's explanation as waterfall bars: each feature's weight from the running total, scaled to 220px."""
    total, bars = 0.0, []
    for feature, level, weight in pair.explanation or []:
        start = total
        total += float(weight)
        bars.append({"feature": feature, "level": level, "weight": float(weight), "start": start, "end": total})
    if not bars:
        return []
    ends = [0.0, *(b["start"] for b in bars), *(b["end"] for b in bars)]
    low, high = min(ends), max(ends)
    scale = 220 / ((high - low) or 1)
    for bar in bars:
        bar["left"] = int((min(bar["start"], bar["end"]) - low) * scale)
        bar["width"] = max(2, int(abs(bar["weight"]) * scale))
        bar["positive"] = bar["weight"] >= 0
    return bars


def _pair_provenance(pair: CandidatePair, readable_ids: list) -> dict:
    # Where a record came from (source, record reference) is shown only for records the user may read.
    sources = Provenance.objects.filter(entity__in=readable_ids).select_related("source").order_by("-recorded_at")[:20]
    pin = pin_current(tenant=pair.tenant)
    if pair.by_rules:
        stage = "rules fallback"
    else:
        stage = pin.stage if pin and pin.artifact.sha256 == pair.model_sha else "default model"
    return {"sources": sources, "model": pair.model_sha, "stage": stage}


# --------------------------------------------------------------------------- evidence

# What an auditor asks of ER: who decided what, on which model and threshold, for which purpose, and what undid it.
EVIDENCE_EVENTS = (
    "er.pair_approved",
    "er.pair_rejected",
    "er.pair_deferred",
    "er.merged",
    "er.merge_rolled_back",
    "er.model_pinned",
    "er.thresholds_changed",
    "er.rules_fallback",
    "er.run",
)
# ER evidence recorded for no tenant that still applies to each: a pin for every tenant (GA).
EVIDENCE_EVENTS_FOR_ALL_TENANTS = ("er.model_pinned",)


def decision_events(*, tenant: Tenant, since=None, until=None):
    """The tenant's ER decision audit events (and the GA pins that applied to it), oldest first.

    ``since`` / ``until`` are aware datetimes (``until`` exclusive), either may be None.
    """
    events = AuditEvent.objects.filter(
        Q(tenant=tenant, event_type__in=EVIDENCE_EVENTS)
        | Q(tenant__isnull=True, event_type__in=EVIDENCE_EVENTS_FOR_ALL_TENANTS)
    )
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events.order_by("seq")
