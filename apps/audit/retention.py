"""Retention: how long each audit event is kept, and the purge of whole sealed segments past it.

An event is kept for its type's class (``apps.audit.catalogue``), or longer where its tenant overrides the type
(``AuditRetentionOverride``), and as long as an active legal hold (``LegalHold``) takes it in. The purge removes
sealed *segments* (the positions between two checkpoints) in which every event is past retention and none is
held, oldest first. It deletes the events only: their positions' leaf hashes, the tree nodes and every checkpoint
stay, and a signed tombstone per run of purged segments records the range, the number of events and the Merkle
root of their leaves, so ``audit_verify`` still proves the log continuous across the gap and every remaining event
and checkpoint unchanged (docs/operations/audit.md, "Retention and legal holds").

Who may place holds and change overrides is decided above this layer (``apps.compliance.services``); this module
reads them, and the purge takes a SHARE lock on the holds so none is placed or lifted while it decides.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.audit import catalogue, merkle, services
from apps.audit.errors import AuditRetentionError
from apps.audit.models import AuditCheckpoint, AuditPosition, AuditRetentionOverride, AuditTombstone, LegalHold

PURGE_RUN_MAX_EVENTS = 50_000  # events deleted per transaction (one tombstone per run of segments)


@dataclass
class Segment:
    """Positions ``first``..``last`` between two checkpoints, with what the purge found about their events."""

    first: int
    last: int
    sealed_at: datetime
    events: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    expires: datetime | None = None  # when the last of its events passes retention
    holds: list[int] = field(default_factory=list)  # active holds that take in one of its events

    @property
    def label(self) -> str:
        return f"positions {self.first}..{self.last}"


@dataclass
class PurgePlan:
    now: datetime
    purgeable: list[Segment] = field(default_factory=list)
    held: list[Segment] = field(default_factory=list)
    kept: int = 0  # segments sealed long enough ago to look at, but with an event still within retention
    considered: int = 0

    @property
    def events(self) -> int:
        return sum(s.events for s in self.purgeable)


@dataclass
class PurgeReport:
    plan: PurgePlan
    dry_run: bool
    tombstones: list[AuditTombstone] = field(default_factory=list)
    deleted: int = 0


def retention_days(event_type: str, tenant_id: int | None, overrides: dict[tuple[int, str], str]) -> int:
    """How many days an event of this type and tenant is kept: its class, or the tenant's longer override."""
    kept = catalogue.retention_class(event_type)
    override = overrides.get((tenant_id, event_type)) if tenant_id is not None else None
    if override and catalogue.longer_or_equal(override, kept):
        kept = override
    return catalogue.RETENTION_DAYS[kept]


def overrides_current() -> dict[tuple[int, str], str]:
    return {
        (tenant_id, event_type): kept
        for tenant_id, event_type, kept in AuditRetentionOverride.objects.values_list(
            "tenant_id", "event_type", "retention"
        )
    }


def holds_active(now: datetime) -> list[LegalHold]:
    return [h for h in LegalHold.objects.filter(lifted_at__isnull=True, placed_at__lte=now) if h.active(now)]


_EVENTS_IN = """
SELECT p.position, e.tenant_id, e.event_type, e.target_type, e.target_id, e.created_at
FROM audit_auditposition p JOIN audit_auditevent e ON e.seq = p.event_seq
WHERE p.position BETWEEN %s AND %s AND p.kind = 'event'
ORDER BY p.position
"""


class PurgedRanges:
    """The position ranges tombstones cover, for "is this position purged?" in O(log n) (a walk asks it for every
    position it finds without an event)."""

    def __init__(self, tombstones) -> None:
        self.tombstones = sorted(tombstones, key=lambda t: t.first)
        self._firsts = [t.first for t in self.tombstones]

    def __iter__(self):
        return iter(self.tombstones)

    def covering(self, position: int):
        """The tombstone whose range holds ``position``, or None."""
        index = bisect.bisect_right(self._firsts, position) - 1
        if index >= 0 and position <= self.tombstones[index].last:
            return self.tombstones[index]
        return None


def range_leaves(first: int, last: int) -> tuple[int, str, int]:
    """Positions ``first``..``last`` as a tombstone sums them up: (positions present, RFC 6962 root of their
    leaves in hex, positions of kind event). One read of the positions table; the purge signs it, verification
    compares it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT leaf_hash, kind FROM audit_auditposition WHERE position BETWEEN %s AND %s ORDER BY position",
            [first, last],
        )
        rows = cursor.fetchall()
    events = sum(1 for _, kind in rows if kind == AuditPosition.KIND_EVENT)
    return len(rows), merkle.root_of([bytes(leaf) for leaf, _ in rows]).hex(), events


def purge_plan(*, now: datetime | None = None, progress: Callable[[int], None] | None = None) -> PurgePlan:
    """Which sealed segments a purge at ``now`` removes, which it keeps for a hold, and how many are still kept
    for retention. Reads only segments sealed at least the shortest retention ago."""
    now = now or timezone.now()
    plan = PurgePlan(now=now)
    shortest = min(catalogue.RETENTION_DAYS.values())
    cutoff = now - timedelta(days=shortest)
    overrides, holds = overrides_current(), holds_active(now)
    purged = PurgedRanges(AuditTombstone.objects.all())
    sizes = list(AuditCheckpoint.objects.order_by("size").values_list("size", "created_at"))
    segments, previous = [], 0
    for size, created_at in sizes:
        if created_at > cutoff:
            break
        first = previous + 1
        previous = size
        if size < first or purged.covering(first) is not None:  # tombstones cover whole segments
            continue
        segments.append(Segment(first=first, last=size, sealed_at=created_at))
    for chunk in _chunks(segments, PURGE_RUN_MAX_EVENTS):
        _scan(chunk, overrides=overrides, holds=holds)
        for segment in chunk:
            plan.considered += 1
            if _within_retention(segment, now):
                plan.kept += 1
            elif segment.holds:
                plan.held.append(segment)
            else:
                plan.purgeable.append(segment)
        if progress:
            progress(len(chunk))
    return plan


def _scan(segments: list[Segment], *, overrides, holds) -> None:
    """Read the events of these segments (in position order; one query over their span, skipping events of
    segments between them that are not asked about) and set each segment's counts, time range, retention end and
    the holds that take in one of its events."""
    with connection.cursor() as cursor:
        cursor.execute(_EVENTS_IN, [segments[0].first, segments[-1].last])
        rows = cursor.fetchall()
    for segment in segments:
        segment.events, segment.oldest, segment.newest, segment.expires, segment.holds = 0, None, None, None, []
    lasts = [s.last for s in segments]
    index = 0
    for position, tenant_id, event_type, target_type, target_id, created_at in rows:
        while lasts[index] < position:
            index += 1
        segment = segments[index]
        if position < segment.first:
            continue
        segment.events += 1
        segment.oldest = min(segment.oldest or created_at, created_at)
        segment.newest = max(segment.newest or created_at, created_at)
        expires = created_at + timedelta(days=retention_days(event_type, tenant_id, overrides))
        segment.expires = max(segment.expires or expires, expires)
        for hold in holds:
            if hold.pk not in segment.holds and hold.covers(
                tenant_id=tenant_id, target_type=target_type, target_id=target_id, created_at=created_at
            ):
                segment.holds.append(hold.pk)


def _within_retention(segment: Segment, now: datetime) -> bool:
    return segment.expires is not None and segment.expires > now


def _chunks(segments: list[Segment], events_max: int):
    """Runs of consecutive segments spanning at most ``events_max`` positions (a longer segment alone)."""
    chunk: list[Segment] = []
    for segment in segments:
        if chunk and segment.last - chunk[0].first + 1 > events_max:
            yield chunk
            chunk = []
        chunk.append(segment)
    if chunk:
        yield chunk


def purge(
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    segments: list[int] | None = None,
    actor=None,
    via: str = "",
    progress: Callable[[int], None] | None = None,
) -> PurgeReport:
    """Purge (or, with ``dry_run``, only plan) every purgeable segment; ``segments`` (checkpoint sizes) asks for
    those alone, and is refused whole, with AuditRetentionError and nothing deleted, when one of them holds an event
    under a hold or within retention. Each transaction deletes up to PURGE_RUN_MAX_EVENTS events under a SHARE lock
    on the holds, re-checking them first, and writes the tombstone of what it deleted."""
    if connection.in_atomic_block:
        raise AuditRetentionError("the purge runs its own transactions; call it outside transaction.atomic()")
    now = now or timezone.now()
    plan = purge_plan(now=now, progress=progress)
    if segments is not None:
        _refuse_unless_purgeable(plan, segments, actor=actor, via=via)
        wanted = set(segments)
        plan.purgeable = [s for s in plan.purgeable if s.last in wanted]
    report = PurgeReport(plan=plan, dry_run=dry_run)
    if dry_run or not plan.purgeable:
        return report
    for run in _runs(plan.purgeable):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE audit_legalhold IN SHARE MODE")
                cursor.execute("LOCK TABLE audit_auditretentionoverride IN SHARE MODE")
            run = _still_purgeable(run, now)
            if not run:
                continue
            for part in _contiguous(run):
                tombstone, deleted = _purge_run(part, now)
                report.tombstones.append(tombstone)
                report.deleted += deleted
    if report.tombstones:
        services.record(
            "audit.purged",
            actor=actor,
            payload={
                "via": via,
                "at": now.isoformat(),
                "events": report.deleted,
                "segments": len(plan.purgeable),
                "held_segments": len(plan.held),
                "tombstones": [[t.first, t.last, t.count] for t in report.tombstones][:100],
            },
        )
    return report


def _refuse_unless_purgeable(plan: PurgePlan, sizes: list[int], *, actor, via: str) -> None:
    purgeable = {s.last for s in plan.purgeable}
    held = {s.last: s for s in plan.held}
    problems = []
    for size in sizes:
        if size in purgeable:
            continue
        if size in held:
            segment = held[size]
            problems.append(
                f"{segment.label}: {segment.events} event(s) under legal hold "
                + ", ".join(f"#{h}" for h in segment.holds)
            )
        elif not AuditCheckpoint.objects.filter(size=size).exists():
            problems.append(f"{size}: no checkpoint of that size (a segment is named by its checkpoint)")
        elif AuditTombstone.objects.filter(first__lte=size, last__gte=size).exists():
            problems.append(f"{size}: already purged")
        else:
            problems.append(f"segment ending at {size}: an event in it is still within its retention")
    if problems:
        services.record(
            "audit.purge_refused", actor=actor, payload={"via": via, "segments": sizes[:100], "why": problems[:20]}
        )
        raise AuditRetentionError("purge refused, nothing deleted: " + "; ".join(problems))


def _runs(segments: list[Segment]):
    """The purgeable segments in transactions of at most PURGE_RUN_MAX_EVENTS events."""
    run, events = [], 0
    for segment in segments:
        if run and events + segment.events > PURGE_RUN_MAX_EVENTS:
            yield run
            run, events = [], 0
        run.append(segment)
        events += segment.events
    if run:
        yield run


def _contiguous(segments: list[Segment]):
    part = []
    for segment in segments:
        if part and part[-1].last + 1 != segment.first:
            yield part
            part = []
        part.append(segment)
    if part:
        yield part


def _still_purgeable(run: list[Segment], now: datetime) -> list[Segment]:
    """Under the locks: read the run again with the holds and overrides as they are now, and drop the segments
    a hold placed (or an override lengthened) since the plan now keeps."""
    _scan(run, overrides=overrides_current(), holds=holds_active(now))
    return [s for s in run if not s.holds and not _within_retention(s, now)]


def _purge_run(part: list[Segment], now: datetime) -> tuple[AuditTombstone, int]:
    first, last = part[0].first, part[-1].last
    _, leaves_root, count = range_leaves(first, last)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL intelgraph.audit_purge = 'on'")
        cursor.execute(
            "DELETE FROM audit_auditevent WHERE seq IN (SELECT event_seq FROM audit_auditposition "
            "WHERE position BETWEEN %s AND %s AND kind = 'event')",
            [first, last],
        )
        deleted = cursor.rowcount
        cursor.execute("SET LOCAL intelgraph.audit_purge = 'off'")
    oldest = min((s.oldest for s in part if s.oldest), default=part[0].sealed_at)
    newest = max((s.newest for s in part if s.newest), default=part[-1].sealed_at)
    tombstone = AuditTombstone(
        first=first,
        last=last,
        count=count,
        leaves_root=leaves_root,
        events_from=oldest,
        events_until=newest,
        purged_at=now,
    )
    services.tombstone_sign(tombstone)
    tombstone.save(force_insert=True)
    return tombstone, deleted
