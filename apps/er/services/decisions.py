"""Reviewers' decisions on candidate pairs: approve (which merges), reject (a lasting never-merge constraint),
defer, and claim, with the checks every reviewer action passes (role, purpose, records visible). Open decision
center pages hear of each claim and decision over Channels once it commits."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.access import bundle as policy
from apps.access import ranks
from apps.access import services as access
from apps.access.errors import PurposeError
from apps.access.selectors import readable
from apps.audit import services as audit
from apps.core.choices import Role
from apps.core.models import Entity
from apps.er.choices import PairStatus
from apps.er.consumers import queue_group
from apps.er.models import CandidatePair, Merge, NeverMerge
from apps.er.selectors import ERError, ordered_pair, settings_for
from apps.er.services.merges import merge_materialize
from apps.er.services.metrics import ER_DECISIONS, count_on_commit
from intelgraph.realtime import publish_after_commit

CLAIM_LAPSES_AFTER = timezone.timedelta(minutes=15)


# --------------------------------------------------------------------------- checks


def _require_reviewer(subject: access.Subject, tenant_id: int, action: str) -> None:
    if tenant_id not in ranks.tenants_with_role(subject=subject, role=Role.REVIEWER):
        raise ERError(f"{action} needs the reviewer role (or higher) in this tenant.", code="forbidden")


def _require_purpose(subject: access.Subject, tenant_id: int, action: str, target=None) -> None:
    try:
        access.purpose_require(subject=subject, tenant_id=tenant_id, action=action, target=target)
    except PurposeError as exc:
        raise ERError(str(exc), code="purpose") from None


def _require_visible(
    subject: access.Subject, *, tenant_id: int, entity_ids: Iterable, action: str, target=None, what: str
) -> None:
    """A reviewer decides only about records they may read: every entity must be visible to them for the action
    (not masked, not hidden). A refusal is audited and names no record; nothing has changed."""
    ids = {str(i) for i in entity_ids}
    entities = list(Entity.objects.filter(pk__in=ids))
    page = readable(subject=subject, action=action).page(entities, shows="visibility")
    refused = [e for e in entities if page.visibility(e) != "visible"]
    if not refused and len(entities) == len(ids):
        return
    audit.record(
        "access.denied",
        actor=subject.user,
        tenant=tenant_id,
        target=target,
        payload={
            "action": action,
            "purpose": subject.purpose,
            "bundle": policy.current_bundle().sha256,
            "denied": len(refused) + len(ids) - len(entities),
            "reasons": dict(Tally(page[e.pk].reason for e in refused)),
            "resources": sorted(str(e.pk) for e in refused)[:20],
        },
    )
    raise ERError(
        f"{what} needs you to be able to read every record involved, and at least one of them is not visible to "
        "you (clearance, compartment or grant); nothing was changed.",
        code="not_visible",
    )


def _require_pair_visible(subject: access.Subject, pair: CandidatePair, what: str) -> None:
    _require_visible(
        subject,
        tenant_id=pair.tenant_id,
        entity_ids=[pair.entity_a_id, pair.entity_b_id],
        action="merge",
        target=pair,
        what=what,
    )


def _announce(pair_id: int) -> None:
    """Tell open decision-center pages what became of a pair (claim, decision), once the write commits."""
    row = CandidatePair.objects.filter(pk=pair_id).select_related("claimed_by").first()
    if row is None:
        return
    claimed_by = row.claimed_by.get_username() if row.claimed_by else None
    publish_after_commit(
        queue_group(row.tenant_id),
        {"type": "pair.changed", "pair": {"pair": row.pk, "status": row.status, "claimed_by": claimed_by}},
    )


# --------------------------------------------------------------------------- decisions


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
    _require_pair_visible(subject, pair, "Approving a merge")
    _require_purpose(subject, pair.tenant_id, "merge", target=pair)
    with transaction.atomic():
        locked = CandidatePair.objects.select_for_update().get(pk=pair.pk)
        if locked.status not in (PairStatus.PENDING, PairStatus.DEFERRED):
            raise ERError("Someone decided this pair a moment ago.", code="decided")
        merge = merge_materialize(
            tenant=pair.tenant,
            entities=[pair.entity_a, pair.entity_b],
            actor=subject.user,
            purpose=subject.purpose,
            pair=locked,
            model_sha=pair.model_sha,
            by_rules=pair.by_rules,
            score=pair.score,
            threshold=settings.review_threshold,
        )
        locked.status, locked.reason, locked.decided_by, locked.decided_at = (
            PairStatus.APPROVED,
            reason[:500],
            subject.user,
            timezone.now(),
        )
        locked.claimed_by = None
        locked.save()
        audit.record(
            "er.pair_approved",
            actor=subject.user,
            tenant=pair.tenant_id,
            target=locked,
            payload={
                "score": pair.score,
                "model": pair.model_sha,
                "reason": reason[:500],
                "merge": merge.pk,
                "purpose": subject.purpose,
            },
        )
        _announce(pair.pk)
        count_on_commit(ER_DECISIONS, pair.tenant.slug, "approved")
    return merge


def pair_reject(*, subject: access.Subject, pair: CandidatePair, reason: str) -> NeverMerge:
    """A rejection is a lasting 'never merge' constraint on the two entities."""
    _require_reviewer(subject, pair.tenant_id, "Rejecting a pair")
    reason = (reason or "").strip()
    if not reason:
        raise ERError(
            "Say why these are not the same (the reason is kept with the never-merge constraint).",
            code="reason_required",
        )
    if pair.status not in (PairStatus.PENDING, PairStatus.DEFERRED):
        raise ERError(f"This pair is already {pair.get_status_display().lower()}.", code="decided")
    _require_pair_visible(subject, pair, "Rejecting a pair")
    with transaction.atomic():
        a, b = ordered_pair(pair.entity_a_id, pair.entity_b_id)
        constraint, _ = NeverMerge.objects.get_or_create(
            tenant_id=pair.tenant_id,
            entity_a_id=a,
            entity_b_id=b,
            defaults={"reason": reason[:500], "actor": subject.user},
        )
        CandidatePair.objects.filter(pk=pair.pk).update(
            status=PairStatus.REJECTED,
            reason=reason[:500],
            decided_by=subject.user,
            decided_at=timezone.now(),
            claimed_by=None,
        )
        audit.record(
            "er.pair_rejected",
            actor=subject.user,
            tenant=pair.tenant_id,
            target=pair,
            payload={"score": pair.score, "model": pair.model_sha, "reason": reason[:500]},
        )
        _announce(pair.pk)
        count_on_commit(ER_DECISIONS, pair.tenant.slug, "rejected")
    return constraint


def pair_defer(*, subject: access.Subject, pair: CandidatePair, reason: str = "") -> CandidatePair:
    """Put a pair aside for later: it stays in the queue, unclaimed."""
    _require_reviewer(subject, pair.tenant_id, "Deferring a pair")
    _require_pair_visible(subject, pair, "Deferring a pair")
    CandidatePair.objects.filter(pk=pair.pk).update(status=PairStatus.DEFERRED, reason=reason[:500], claimed_by=None)
    audit.record(
        "er.pair_deferred", actor=subject.user, tenant=pair.tenant_id, target=pair, payload={"reason": reason[:500]}
    )
    _announce(pair.pk)
    count_on_commit(ER_DECISIONS, pair.tenant.slug, "deferred")
    pair.refresh_from_db()
    return pair


def pair_claim(*, subject: access.Subject, pair: CandidatePair) -> CandidatePair:
    """Claim a pair so no other reviewer works on it at the same time (a claim older than 15 minutes lapses)."""
    _require_reviewer(subject, pair.tenant_id, "Claiming a pair")
    stale = timezone.now() - CLAIM_LAPSES_AFTER
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
