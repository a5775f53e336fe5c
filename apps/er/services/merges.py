"""Materialising a merge: entities (or the clusters they belong to) become one canonical entity chosen by
survivorship, with the exact prior state of every row the merge touches recorded in its snapshot so that a
rollback (``apps.er.services.rollback``) can restore it. A merge's snapshot is shown redacted by
``apps.er.selectors.states_redacted``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.access import bundle as policy
from apps.access import purposes as access_purposes
from apps.audit import services as audit
from apps.core.models import Entity, Relationship, Tenant
from apps.er.models import CandidatePair, Merge
from apps.er.selectors import (
    ERError,
    cluster_ids,
    edge_state,
    entity_state,
    never_merge_pairs,
    root_of,
    state_checksum,
)
from apps.er.services.metrics import ER_MERGES, count_on_commit
from apps.graph.services import outbox_add
from intelgraph.realtime import publish_changes


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
        raise ERError(
            f"Entities of different kinds ({', '.join(sorted({r.kind for r in roots}))}) cannot be merged.",
            code="kinds_differ",
        )
    # Every member of every cluster involved: a never-merge between any two of them blocks the merge.
    clusters = {r.pk: cluster_ids(r) for r in roots}
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


def _purpose_refused(accepted: list[str]) -> str:
    """Why a merge is refused its purpose, naming those the tenant's policy accepts (``purposes_accepted``)."""
    if not accepted:
        return "A merge materialises only under an investigative purpose, and this tenant has none active."
    return f"A merge materialises only under the purpose {' or '.join(accepted)}."


def merge_materialize(
    *,
    tenant: Tenant,
    entities: list[Entity],
    actor=None,
    purpose: str | None,
    pair: CandidatePair | None = None,
    model_sha: str = "",
    by_rules: bool = False,
    score: float | None = None,
    threshold: float | None = None,
    automatic: bool = False,
) -> Merge:
    """Merge entities (or the clusters they belong to) into one canonical entity, recording the exact prior state.

    An existing canonical entity absorbs the others and keeps its id (stable across re-runs); otherwise a new
    canonical entity is created. Members keep their rows (merged_into points at the canonical entity); the
    relationships of absorbed entities to the outside are re-pointed to the canonical entity, relationships
    inside the cluster stay where they are.
    """
    accepted = access_purposes.purposes_accepted(tenant_id=tenant.pk, action="merge")
    if purpose not in accepted:
        raise ERError(_purpose_refused(accepted), code="purpose")
    with transaction.atomic():
        locked = list(Entity.objects.select_for_update().filter(pk__in=[e.pk for e in entities]))
        plan = _plan(tenant, locked)
        absorbed_ids = [e.pk for e in plan.absorbed]
        members_ids = plan.cluster_ids
        edges = list(Relationship.objects.filter(Q(from_entity__in=absorbed_ids) | Q(to_entity__in=absorbed_ids)))
        touched_entities = [*absorbed_ids, *([plan.target.pk] if plan.target else [])]
        snapshot = {
            "entities": {str(e.pk): entity_state(e) for e in Entity.objects.filter(pk__in=touched_entities)},
            "relationships": {str(r.pk): edge_state(r) for r in edges},
        }
        checksum = state_checksum(entity_ids=touched_entities, edge_ids=[r.pk for r in edges])
        created = plan.target is None
        if created:
            target = Entity.objects.create(tenant=tenant, **_canonical_fields(plan.roots))
        else:
            target = plan.target
            members = list(Entity.objects.filter(pk__in=members_ids))
            for name, value in _canonical_fields([target, *members]).items():
                setattr(target, name, value)
            target.save()
        Entity.objects.filter(pk__in=absorbed_ids).update(merged_into=target, updated_at=timezone.now())
        repointed = []
        for edge in edges:
            new_from = target.pk if edge.from_entity_id in absorbed_ids else edge.from_entity_id
            new_to = target.pk if edge.to_entity_id in absorbed_ids else edge.to_entity_id
            if new_from == new_to or {edge.from_entity_id, edge.to_entity_id} <= members_ids:
                continue  # inside the cluster: stays between its members
            Relationship.objects.filter(pk=edge.pk).update(from_entity=new_from, to_entity=new_to)
            repointed.append(edge.pk)
        merge = Merge.objects.create(
            tenant=tenant,
            canonical=target,
            created_canonical=created,
            members=absorbed_ids,
            snapshot=snapshot,
            checksum_before=checksum,
            pair=pair,
            model_sha=model_sha,
            by_rules=by_rules,
            score=score,
            threshold=threshold,
            automatic=automatic,
            purpose=purpose,
            policy_bundle=policy.current_bundle().sha256,
            approver=actor if getattr(actor, "pk", None) else None,
        )
        outbox_add(tenant_id=tenant.pk, kind="entity", ids=[target.pk, *absorbed_ids])
        outbox_add(tenant_id=tenant.pk, kind="relationship", ids=repointed)
        audit.record(
            "er.merged",
            actor=actor,
            tenant=tenant,
            target=target,
            payload={
                "merge": merge.pk,
                "members": [str(i) for i in absorbed_ids],
                "created": created,
                "model": model_sha,
                "by_rules": by_rules,
                "score": score,
                "threshold": threshold,
                "purpose": purpose,
                "automatic": automatic,
                "bundle": merge.policy_bundle,
                "relationships_repointed": len(repointed),
                "checksum_before": checksum,
            },
        )
        changes = [{"id": i, "op": "merged", "into": target.pk} for i in absorbed_ids]
        publish_changes(
            tenant_id=tenant.pk, changes=changes + ([{"id": target.pk, "op": "updated"}] if not created else [])
        )
        count_on_commit(ER_MERGES, tenant.slug, ("rules" if by_rules else "auto") if automatic else "reviewer")
    return merge
