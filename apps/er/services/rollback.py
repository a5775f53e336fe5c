"""Rollback: undo a merge (and, first, the later merges built on it), or everything one model version merged
for a tenant, each in one transaction that restores the exact prior state of every row or changes nothing.
The dry run a reviewer sees first is read in ``apps.er.selectors`` (``rollback_plan``, ``rollback_changes``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.access import services as access
from apps.audit import services as audit
from apps.core.models import Entity, Relationship, Tenant
from apps.er.choices import PairStatus
from apps.er.models import CandidatePair, Merge
from apps.er.selectors import ERError, RollbackPlan, rollback_plan, state_checksum
from apps.er.services.decisions import _require_purpose, _require_reviewer, _require_visible
from apps.er.services.metrics import ER_ROLLBACKS, count_on_commit
from apps.graph.services import outbox_add
from intelgraph.realtime import publish_changes


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
            raise ERError("The rollback could not restore the exact prior state; nothing was changed.", code="checksum")
        for undo in plan.merges:
            count_on_commit(ER_ROLLBACKS, undo.tenant.slug)
    return plan


def _require_rollback_visible(subject: access.Subject, merges: list[Merge]) -> None:
    """Rolling back rewrites every entity the merges (and the later ones built on them) touched: the reviewer
    must be able to read each of them as it is now (a canonical entity the merge created included)."""
    for merge in merges:
        if merge.rolled_back_at:
            continue  # rollback_plan refuses it with its own message
        plan = rollback_plan(merge=merge)
        _require_visible(
            subject,
            tenant_id=merge.tenant_id,
            action="rollback",
            target=merge,
            entity_ids=[pk for pk, row in plan.entities.items() if row.get("now") is not None],
            what="Rolling back a merge",
        )


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
        "er.merge_rolled_back",
        actor=subject.user,
        tenant=merge.tenant_id,
        target=merge,
        payload={
            "merge": merge.pk,
            "canonical": str(merge.canonical_id),
            "members": [str(m) for m in merge.members],
            "canonical_deleted": deleted,
            "reason": reason[:500],
            "purpose": subject.purpose,
            "model": merge.model_sha,
        },
    )
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
