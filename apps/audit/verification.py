"""Verifying the audit log: every event, position and checkpoint, signatures, and the checkpoint seen outside.

``verify_log()`` walks the sealed positions in order in one REPEATABLE READ snapshot (so a sealer working
meanwhile changes nothing it sees), rebuilds the Merkle tree from the events' own content and compares it with
every signed checkpoint, then checks the events not sealed yet. It stops at the first problem and names its
position (or, for an event not sealed yet, its number). Incremental by default: from the state recorded by the
last successful run (AUDIT_VERIFIED_FILE), whose root the stored tree must still reproduce; ``full=True`` walks
everything. A long walk is cut into ranges of whole segments, walked in ``jobs`` processes (``walk``).

Signatures: every run checks the signature of every sealed event no earlier run checked, and of every event
not sealed yet. A full run re-checks everything else (content, leaves, order, roots, nodes) from position 1, and
proves on the way that the positions an earlier run verified still give the root it recorded (outside the
database): their events are the ones whose signatures it checked, so it checks those again only with
``signatures=True`` (ADR 0010).

Trust: keys from configuration only (``services.trusted_keys``); the checkpoint file and the verified state
outside the database; never a key, node or leaf the database offers without a signed root to compare with.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import psycopg
import psycopg.sql
from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q

from apps.audit import merkle, services
from apps.audit.errors import AuditCheckpointError, AuditSealingError
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition, AuditTombstone, AuditTreeNode
from apps.audit.retention import PurgedRanges, range_leaves
from apps.audit.sealing import StoredTree
from apps.audit.walk import PURGED, SIGNATURE_KINDS, LogProblem, Range, RangeResult, Seen, walk_range

__all__ = ["LogProblem", "LogReport", "verify_log", "verify_recorded"]


@dataclass
class LogReport:
    full: bool
    start: int  # positions already verified before this run (0 for a full run)
    size: int  # sealed positions (the last checkpoint's size)
    root: str
    resumed: bool = False  # incremental: went on from the state a previous run recorded
    checked: int = 0  # positions checked in this run
    signatures: int = 0  # signatures of sealed events checked in this run
    signatures_before: int = 0  # a full run: positions 1..this one had their signatures checked by an earlier run
    checkpoints: int = 0  # checkpoints whose signature and root were checked
    unsealed: int = 0  # events not sealed yet, their hashes and signatures checked
    purged: int = 0  # events removed by the retention purge (their tombstones checked)
    seconds: float = 0.0
    problem: LogProblem | None = None
    seen: services.SeenCheckpoint | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Stop(Exception):
    def __init__(self, problem: LogProblem) -> None:
        self.problem = problem


def verify_log(
    *,
    full: bool = False,
    signatures: bool | None = None,
    progress=None,
    advance: bool = True,
    jobs: int | None = None,
) -> LogReport:
    """Verify the log (see the module docstring); with ``advance`` a log that verifies moves the verified state
    and the checkpoint file on. ``signatures=True``: a full run checks every sealed event's signature again, also
    those an earlier run checked (the module docstring)."""
    started = time.perf_counter()
    report = LogReport(full=full, start=0, size=0, root=merkle.EMPTY_ROOT.hex())
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            _verify(
                report,
                full=full,
                signatures=signatures,
                progress=progress,
                jobs=jobs or min(os.cpu_count() or 1, 4),
            )
    except _Stop as stop:
        report.problem = stop.problem
    report.seconds = time.perf_counter() - started
    if report.ok and advance:
        services.verified_advance(size=report.size, root=report.root, full=full)
        last = AuditCheckpoint.objects.filter(size=report.size).first()
        if last is not None:
            services.checkpoint_file_advance(last)
    return report


def verify_recorded(
    *, full: bool = False, signatures: bool | None = None, progress=None, jobs: int | None = None, via: str
) -> LogReport:
    """``verify_log`` whose outcome becomes an audit event: ``audit.verified`` (positions checked, size, root) or
    ``audit.verify_failed`` (the first problem). AuditCheckpointError (the state file cannot be written) passes
    through, recorded as a failure."""
    try:
        report = verify_log(full=full, signatures=signatures, progress=progress, jobs=jobs)
    except AuditCheckpointError as exc:
        services.record("audit.verify_failed", payload={"full": full, "via": via, "problem": str(exc)})
        raise
    payload = {
        "ok": report.ok,
        "full": full,
        "via": via,
        "start": report.start,
        "checked": report.checked,
        "signatures": report.signatures,
        "size": report.size,
        "root": report.root,
        "unsealed": report.unsealed,
        "seconds": round(report.seconds, 3),
    }
    if report.ok:
        services.record("audit.verified", payload=payload)
    else:
        position = report.problem.position
        services.record(
            "audit.verify_failed",
            payload={**payload, "problem": str(report.problem), "position": position, "kind": report.problem.kind},
        )
    return report


def _verify(report: LogReport, *, full: bool, signatures: bool | None, progress, jobs: int) -> None:
    try:
        report.seen = seen = services.checkpoint_file_load()
        verified = None if full else services.verified_load()
    except AuditCheckpointError as exc:
        raise _Stop(LogProblem(None, None, "bad-checkpoint", str(exc))) from None
    # A full run re-checks the signatures a previous run checked only when asked: the walk proves those
    # positions still give the root that run verified, so their events are the ones whose signatures it checked.
    checked_before = None
    if full and not signatures:
        try:
            checked_before = services.verified_load()
        except AuditCheckpointError as exc:
            report.notes.append(f"every signature checked: the verified state is not usable ({exc})")
    keys = services.trusted_keys()
    checkpoints = list(AuditCheckpoint.objects.order_by("size"))
    last_size = checkpoints[-1].size if checkpoints else 0
    report.size, report.root = last_size, checkpoints[-1].root_hash if checkpoints else report.root
    if seen is not None and seen.root is None and seen.size > last_size:
        # a version 1 file (the hash chain's head) before the sealer adopted the chain: the head must be there
        head = AuditEvent.objects.filter(seq=seen.size).values_list("hash", flat=True).first()
        if head != seen.head_hash:
            raise _Stop(
                LogProblem(
                    None,
                    seen.size,
                    "truncated" if head is None else "forked",
                    f"event #{seen.size} verified on {seen.time} is "
                    + (
                        "gone"
                        if head is None
                        else f"now {head[:16]}…, not {seen.head_hash[:16]}…: history was rewritten"
                    ),
                )
            )
    elif seen is not None and seen.size > last_size:
        held = f"the log has {last_size} sealed positions" if last_size else "the log has no sealed position"
        raise _Stop(
            LogProblem(
                last_size + 1,
                None,
                "truncated",
                f"{held}, but checkpoint {seen.size} of {seen.time} was seen outside the database: positions "
                f"{last_size + 1}..{seen.size} are gone (a restore to an earlier time, or a deleted tail)",
            )
        )
    tombstones = PurgedRanges(AuditTombstone.objects.all())
    _check_tombstones(tombstones, checkpoints)
    report.purged = sum(t.count for t in tombstones)
    start, frontier = 0, merkle.Frontier()
    if verified is not None:
        if verified.size > last_size:
            raise _Stop(
                LogProblem(
                    last_size + 1,
                    None,
                    "truncated",
                    f"the log has {last_size} sealed positions, but {verified.size} were verified on "
                    f"{verified.verified_at}",
                )
            )
        try:
            frontier = StoredTree().frontier(verified.size)
        except AuditSealingError as exc:
            raise _Stop(LogProblem(None, None, "forked", f"{exc}; verified on {verified.verified_at}")) from None
        if frontier.root().hex() != verified.root:
            raise _Stop(
                LogProblem(
                    None,
                    None,
                    "forked",
                    f"the first {verified.size} positions no longer have the root verified on {verified.verified_at}: "
                    "sealed history was rewritten (audit_verify --full finds where)",
                )
            )
        start = verified.size
        report.resumed = True
        _cheap_checks(start, tombstones)
    report.start = start
    vouched = None
    if checked_before is not None and 0 < checked_before.size <= last_size:
        vouched = Seen(checked_before.size, checked_before.root, None, checked_before.verified_at)
        report.signatures_before = checked_before.size
    _walk(report, checkpoints, frontier, start, seen, keys, progress, jobs, tombstones, vouched)
    _unsealed(report, checkpoints, keys)


def _check_tombstones(tombstones, checkpoints) -> None:
    """Each tombstone of the retention purge: signed by a trusted key, whole segments (it starts after a
    checkpoint and ends at one), no overlap, and the leaves its range still holds give its signed root and count.
    Cheap (leaf hashes only), so incremental runs check every tombstone too."""
    sizes = {c.size for c in checkpoints} | {0}
    previous_last = 0
    for tombstone in tombstones:
        where = f"tombstone of positions {tombstone.first}..{tombstone.last}"
        problem = services.tombstone_problem(tombstone)
        if problem:
            raise _Stop(LogProblem(tombstone.first, None, "bad-tombstone", f"{where}: {problem}"))
        if tombstone.first - 1 not in sizes or tombstone.last not in sizes or tombstone.first <= previous_last:
            raise _Stop(
                LogProblem(
                    tombstone.first,
                    None,
                    "bad-tombstone",
                    f"{where} does not cover whole segments between checkpoints (or overlaps another)",
                )
            )
        previous_last = tombstone.last
        positions, root, events = range_leaves(tombstone.first, tombstone.last)
        if positions != tombstone.last - tombstone.first + 1:
            raise _Stop(
                LogProblem(tombstone.first, None, "missing", f"{where}: positions of the purged range are gone")
            )
        if root != tombstone.leaves_root or events != tombstone.count:
            raise _Stop(
                LogProblem(
                    tombstone.first,
                    None,
                    "bad-tombstone",
                    f"{where}: the range's leaves are not the ones it was signed over ({events} events, "
                    f"{tombstone.count} recorded)",
                )
            )


def _cheap_checks(size: int, tombstones: PurgedRanges) -> None:
    """What an incremental run still checks below its start, by counting (no anti-join): no
    position is gone, and the event rows add up to the sealed events plus those waiting. Only when they do not
    add up does it look for the event that is gone, to name it. (Deleting one sealed event *and* inserting a
    junk row of an old transaction keeps the counts; ``--full`` finds both.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditposition WHERE position <= %s", [size])
        (count,) = cursor.fetchone()
        if count != size:
            raise _Stop(
                LogProblem(
                    None, None, "missing", f"{size - count} of positions 1..{size} are gone (audit_verify --full)"
                )
            )
        cursor.execute(
            "SELECT (SELECT count(*) FROM audit_auditevent), "
            "(SELECT count(*) FROM audit_auditposition WHERE kind = 'event'), "
            "(SELECT count(*) FROM audit_auditevent WHERE xid >= (SELECT coalesce(max(horizon), 0) FROM audit_auditcheckpoint)"
            " OR (xid IS NULL AND NOT EXISTS (SELECT 1 FROM audit_auditcheckpoint WHERE horizon > 0)))"
        )
        events, sealed, waiting = cursor.fetchone()
        if events + sum(t.count for t in tombstones) == sealed + waiting:
            return
        cursor.execute(
            "SELECT p.position, p.event_seq FROM audit_auditposition p LEFT JOIN audit_auditevent e "
            "ON e.seq = p.event_seq WHERE p.position <= %s AND p.kind = 'event' AND e.id IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM audit_audittombstone t WHERE p.position BETWEEN t.first AND t.last) "
            "ORDER BY p.position LIMIT 1",
            [size],
        )
        row = cursor.fetchone()
    if row:
        raise _Stop(LogProblem(row[0], row[1], "missing", "the event sealed here is not in the database (deleted)"))


RANGE_POSITIONS = 25_000  # a worker walks about this many positions at a time (whole segments)
PARALLEL_MIN = 100_000  # fewer positions to walk than this are walked inline, in this process


def _walk(report, checkpoints, frontier, start, seen, keys, progress, jobs, tombstones, vouched: Seen | None) -> None:
    """Walk the positions after ``start`` (in ranges, in parallel when there are many); ``vouched``: the state a
    previous run verified, whose positions' signatures are not checked again (the walk checks its root)."""
    pending = [c for c in checkpoints if c.size > start]
    for index, checkpoint in enumerate(pending):
        problem = services.checkpoint_problem(checkpoint)
        if problem:
            before = pending[index - 1].size if index else _size_before(checkpoints, checkpoint)
            raise _Stop(
                LogProblem(
                    before + 1,
                    None,
                    "bad-checkpoint",
                    f"checkpoint {checkpoint.size} (positions {before + 1}..{checkpoint.size}): {problem}",
                )
            )
    nodes = {
        (level, index): bytes(digest)
        for level, index, digest in AuditTreeNode.objects.values_list("level", "index", "hash")
        if (index + 1) << level > start
    }
    last_size = checkpoints[-1].size if checkpoints else 0
    parallel = jobs > 1 and last_size - start >= PARALLEL_MIN
    ranges = _ranges(start, frontier, checkpoints, pending, nodes, seen, tombstones, parallel=parallel)
    for job in ranges:
        job.keys = keys
        if vouched is not None:
            job.signatures_after = vouched.size
            if job.first <= vouched.size and (job.open_end or vouched.size <= job.last):
                job.verified = vouched
    if not parallel:
        results = [walk_range(connection.connection, ranges[0], progress)]
    else:
        results = _walk_in_workers(ranges, jobs, progress)
    for index, result in enumerate(results):
        report.checked += result.checked
        report.checkpoints += result.checkpoints
        report.signatures += result.signatures
        if result.problem is not None:
            raise _Stop(_explained(result.problem))
        if index + 1 < len(ranges) and result.frontier != ranges[index + 1].frontier:
            raise _Stop(
                LogProblem(
                    result.first,
                    None,
                    "bad-node",
                    f"the stored tree at position {ranges[index + 1].first - 1} differs from the one the events give",
                )
            )


def _ranges(start, frontier, checkpoints, pending, nodes, seen, tombstones, *, parallel: bool) -> list[Range]:
    """Cut positions ``start+1..`` into ranges of whole segments (one range when not parallel). A range starts
    from the stored tree's frontier at its start, which must give that checkpoint's signed root; where it does
    not, no range starts there (the range before walks on and finds what is wrong)."""
    frontiers = {start: frontier}  # each cut's frontier, checked against the checkpoint there
    if parallel:
        tree = StoredTree(nodes=nodes)
        for checkpoint in pending[:-1]:
            if checkpoint.size - max(frontiers) < RANGE_POSITIONS:
                continue
            try:
                cut_frontier = tree.frontier(checkpoint.size)
            except AuditSealingError:
                continue
            if cut_frontier.root().hex() == checkpoint.root_hash:
                frontiers[checkpoint.size] = cut_frontier
    cuts = sorted(frontiers)
    ends = [*cuts[1:], pending[-1].size if pending else start]
    ranges = []
    purged = [(t.first, t.last) for t in tombstones]
    for number, (first_cut, end) in enumerate(zip(cuts, ends, strict=True)):
        first, open_end = first_cut + 1, number == len(cuts) - 1
        previous = _checkpoint_at_or_before(checkpoints, first_cut)
        prev_hash = None
        if previous is not None and previous.horizon == 0 and first_cut:
            prev_hash = (
                AuditEvent.objects.filter(seq=AuditPosition.objects.get(position=first_cut).event_seq)
                .values_list("hash", flat=True)
                .first()
            )
            if prev_hash is None and tombstones.covering(first_cut) is not None:
                prev_hash = PURGED
        positions = AuditPosition.objects.filter(position__gte=first)
        if not open_end:
            positions = positions.filter(position__lte=end)
        bounds = positions.aggregate(low=Min("event_seq"), high=Max("event_seq"))

        def in_range(at: int, first=first, end=end, open_end=open_end) -> bool:
            return at >= first and (open_end or at <= end)

        ranges.append(
            Range(
                first=first,
                last=end,
                open_end=open_end,
                frontier=frontiers[first_cut].hashes,
                checkpoints=[(c.size, c.root_hash, c.horizon) for c in pending if in_range(c.size)],
                previous_horizon=previous.horizon if previous is not None else None,
                prev_hash=prev_hash,
                nodes={key: digest for key, digest in nodes.items() if in_range((key[1] + 1) << key[0])},
                purged=purged,
                seq_low=bounds["low"] or 0,
                seq_high=bounds["high"] or 0,
                seen=(
                    Seen(seen.size, seen.root, seen.head_hash, seen.time)
                    if seen is not None and in_range(seen.size)
                    else None
                ),
            )
        )
    return ranges


def _walk_in_workers(ranges: list[Range], jobs: int, progress) -> list[RangeResult]:
    """Each range in a worker process on its own connection, in this transaction's snapshot; the results in
    order up to the first with a problem (what comes after it does not matter)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
    info = connection.connection.info
    params = {**info.get_parameters(), "password": info.password}
    # fork: the workers use no Django connection (walk.py is plain psycopg) and start in milliseconds
    context = multiprocessing.get_context("fork")
    results = []
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_worker_start, initargs=(params, snapshot)
    ) as pool:
        futures = [pool.submit(_worker_walk, job) for job in ranges]
        try:
            for future in futures:
                result = future.result()
                results.append(result)
                if progress:
                    progress(result.checked)
                if result.problem is not None:
                    break
        finally:
            for future in futures:
                future.cancel()
    return results


_worker_connection = None


def _worker_start(params: dict, snapshot: str) -> None:
    global _worker_connection
    conn = psycopg.connect(**params)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.execute(psycopg.sql.SQL("SET TRANSACTION SNAPSHOT {}").format(psycopg.sql.Literal(snapshot)))
    multiprocessing.util.Finalize(None, conn.close, exitpriority=10)
    _worker_connection = conn


def _worker_walk(job: Range) -> RangeResult:
    return walk_range(_worker_connection, job)


def _explained(problem: LogProblem) -> LogProblem:
    """A signature problem found in a walk, said with what the database's key table adds (services)."""
    if problem.kind not in SIGNATURE_KINDS or problem.seq is None:
        return problem
    event = AuditEvent.objects.filter(seq=problem.seq).first()
    found = services.verify_event_signature(event, services.trusted_public_keys()) if event is not None else None
    if found is None:
        return problem
    suffix = " (the sealer rejected it)" if problem.detail.endswith("(the sealer rejected it)") else ""
    return LogProblem(problem.position, problem.seq, found[0], found[1] + suffix)


def _size_before(checkpoints, checkpoint) -> int:
    earlier = [c.size for c in checkpoints if c.size < checkpoint.size]
    return earlier[-1] if earlier else 0


def _checkpoint_at_or_before(checkpoints, size):
    found = None
    for checkpoint in checkpoints:
        if checkpoint.size <= size:
            found = checkpoint
    return found


def _unsealed(report: LogReport, checkpoints, keys) -> None:
    """Events not sealed yet: their hashes and signatures; and none that should have been sealed already."""
    horizon = max((c.horizon for c in checkpoints), default=0)
    adopted = any(c.horizon > 0 for c in checkpoints)
    keys_public = services.trusted_public_keys()
    sealed = AuditPosition.objects.filter(event_seq=OuterRef("seq"))
    if report.resumed:  # incremental: the events waiting (a range read); the counts vouched for the rest
        waiting = Q(xid__gte=horizon) | Q(xid__isnull=True) if not adopted else Q(xid__gte=horizon)
        candidates = AuditEvent.objects.filter(waiting)
    else:  # full: every event outside the log, whatever its transaction
        candidates = AuditEvent.objects.all()
    events = candidates.filter(~Exists(sealed)).order_by("seq").iterator(chunk_size=2000)
    for event in events:
        if (event.xid is not None and event.xid < horizon) or (event.xid is None and adopted):
            raise _Stop(
                LogProblem(
                    None,
                    event.seq,
                    "inserted",
                    f"not in the log although every transaction up to {horizon - 1} was sealed: it was inserted "
                    "behind the sealer's back",
                )
            )
        if services.event_hash(event) != event.hash:
            raise _Stop(
                LogProblem(
                    None, event.seq, "changed", f"(not sealed yet) content does not match its hash {event.hash[:16]}…"
                )
            )
        problem = services.verify_event_signature(event, keys_public)
        if problem:
            raise _Stop(LogProblem(None, event.seq, problem[0], f"(not sealed yet) {problem[1]}"))
        report.unsealed += 1
