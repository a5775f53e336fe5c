"""Verifying the audit log: every event, signature, position and checkpoint, and the checkpoint seen outside.

``verify_log()`` walks the sealed positions in order in one REPEATABLE READ snapshot (so a sealer working
meanwhile changes nothing it sees), rebuilds the Merkle tree from the events' own content and compares it with
every signed checkpoint, then checks the events not sealed yet. It stops at the first problem and names its
position (or, for an event not sealed yet, its number). Incremental by default: from the state recorded by the
last successful run (AUDIT_VERIFIED_FILE), whose root the stored tree must still reproduce; ``full=True`` walks
everything. Ed25519 checks, the bulk of the work, run in ``jobs`` processes.

Trust: keys from configuration only (``services.trusted_keys``); the checkpoint file and the verified state
outside the database; never a key, node or leaf the database offers without a signed root to compare with.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from apps.audit import merkle, services
from apps.audit.errors import AuditCheckpointError, AuditSealingError
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition, AuditTombstone, AuditTreeNode
from apps.audit.retention import PurgedRanges, range_leaves
from apps.audit.sealing import TILE_LEVEL, StoredTree, missing_digest

SIGNATURE_CHUNK = 4000
_PURGED = object()  # the previous event of an adopted hash chain was purged: its link cannot be checked


@dataclass
class LogProblem:
    """The first thing wrong with the log.

    ``position``: where in the log (None for an event not sealed yet, or the checkpoint file itself); ``seq``: the
    event's number when one is concerned. ``kind``: missing, changed, moved, out-of-order, relinked, bad-signature,
    untrusted-key, unknown-key, bad-checkpoint, rewritten, bad-node, truncated, forked, inserted or bad-tombstone
    (docs/operations/audit.md says what each means).
    """

    position: int | None
    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = []
        if self.position is not None:
            where.append(f"position {self.position}")
        if self.seq is not None:
            where.append(f"event #{self.seq}" if self.position is None else f"(event #{self.seq})")
        return (" ".join(where) + ": " if where else "") + f"{self.kind}: {self.detail}"


@dataclass
class LogReport:
    full: bool
    start: int  # positions already verified before this run (0 for a full run)
    size: int  # sealed positions (the last checkpoint's size)
    root: str
    resumed: bool = False  # incremental: went on from the state a previous run recorded
    checked: int = 0  # positions checked in this run
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


def verify_log(*, full: bool = False, progress=None, advance: bool = True, jobs: int | None = None) -> LogReport:
    """Verify the log (see the module docstring); with ``advance`` a log that verifies moves the verified state
    and the checkpoint file on."""
    started = time.perf_counter()
    report = LogReport(full=full, start=0, size=0, root=merkle.EMPTY_ROOT.hex())
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            _verify(report, full=full, progress=progress, jobs=jobs or min(os.cpu_count() or 1, 4))
    except _Stop as stop:
        report.problem = stop.problem
    report.seconds = time.perf_counter() - started
    if report.ok and advance:
        services.verified_advance(size=report.size, root=report.root, full=full)
        last = AuditCheckpoint.objects.filter(size=report.size).first()
        if last is not None:
            services.checkpoint_file_advance(last)
    return report


def verify_recorded(*, full: bool = False, progress=None, jobs: int | None = None, via: str) -> LogReport:
    """``verify_log`` whose outcome becomes an audit event: ``audit.verified`` (positions checked, size, root) or
    ``audit.verify_failed`` (the first problem). AuditCheckpointError (the state file cannot be written) passes
    through, recorded as a failure."""
    try:
        report = verify_log(full=full, progress=progress, jobs=jobs)
    except AuditCheckpointError as exc:
        services.record("audit.verify_failed", payload={"full": full, "via": via, "problem": str(exc)})
        raise
    payload = {
        "ok": report.ok,
        "full": full,
        "via": via,
        "start": report.start,
        "checked": report.checked,
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


def _verify(report: LogReport, *, full: bool, progress, jobs: int) -> None:
    try:
        report.seen = seen = services.checkpoint_file_load()
        verified = None if full else services.verified_load()
    except AuditCheckpointError as exc:
        raise _Stop(LogProblem(None, None, "bad-checkpoint", str(exc))) from None
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
    _walk(report, checkpoints, frontier, start, seen, keys, progress, jobs, tombstones)
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


_ROWS = """
SELECT p.position, p.event_seq, p.leaf_hash, p.kind, p.confirmed_by,
       e.seq, e.version, e.xid, e.created_at, e.tenant_id, e.actor_id, e.actor_label, e.event_type, e.target_type,
       e.target_id, e.payload, e.confirms, e.prev_hash, e.hash, e.signature, e.key_id
FROM audit_auditposition p LEFT JOIN audit_auditevent e ON e.seq = p.event_seq
WHERE p.position > %s ORDER BY p.position
"""


def _walk(report, checkpoints, frontier, start, seen, keys, progress, jobs, tombstones: PurgedRanges) -> None:
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
    boundaries = iter(pending)
    checkpoint = next(boundaries, None)
    previous = _checkpoint_at_or_before(checkpoints, start)
    low, high = _segment(previous, checkpoint)
    segment_first = start + 1
    nodes = {
        (level, index): bytes(digest)
        for level, index, digest in AuditTreeNode.objects.values_list("level", "index", "hash")
        if (index + 1) << level > start
    }
    signatures = _Signatures(keys, jobs)
    last_seq, prev_hash, position = None, None, start
    if previous is not None and previous.horizon == 0 and start:
        prev_hash = (
            AuditEvent.objects.filter(seq=AuditPosition.objects.get(position=start).event_seq)
            .values_list("hash", flat=True)
            .first()
        )
        if prev_hash is None and tombstones.covering(start) is not None:
            prev_hash = _PURGED

    def on_node(level: int, node_index: int, digest: bytes) -> None:
        if level >= TILE_LEVEL and nodes.get((level, node_index)) != digest:
            first = (node_index << level) + 1
            raise _Stop(
                LogProblem(
                    first,
                    None,
                    "bad-node",
                    f"the stored tree node {level}/{node_index} (positions {first}..{(node_index + 1) << level}) "
                    "differs from the events' (proofs through it would fail)",
                )
            )

    def advance(leaf: bytes, position: int, seq, digest) -> None:
        """Add a position's leaf; at a checkpoint, compare the root it signed and move to the next segment."""
        nonlocal previous, checkpoint, low, high, segment_first, last_seq
        frontier.append(leaf, on_node)
        if seen is not None and position == seen.size and (digest is not None or seen.root is not None):
            _against_seen(seen, frontier, position, seq, digest)
        if position == checkpoint.size:
            if frontier.root().hex() != checkpoint.root_hash:
                raise _Stop(
                    LogProblem(
                        segment_first,
                        None,
                        "rewritten",
                        f"positions {segment_first}..{checkpoint.size} do not have the root checkpoint "
                        f"{checkpoint.size} signed: an event or a purged range's leaf was added, removed, changed or "
                        "reordered there",
                    )
                )
            report.checkpoints += 1
            previous, checkpoint = checkpoint, next(boundaries, None)
            low, high = _segment(previous, checkpoint)
            segment_first, last_seq = position + 1, None
        report.checked += 1

    try:
        with connection.chunked_cursor() as cursor:
            cursor.execute(_ROWS, [start])
            while rows := cursor.fetchmany(5000):
                for row in rows:
                    position += 1
                    (at, event_seq, leaf_stored, kind, confirmed_by, seq, version, xid) = row[:8]
                    if at != position:
                        raise _Stop(
                            LogProblem(
                                position, None, "missing", f"position {position} is not in the log (found {at} next)"
                            )
                        )
                    if checkpoint is None:
                        raise _Stop(
                            LogProblem(
                                position,
                                event_seq,
                                "inserted",
                                "a position after the last checkpoint: sealed positions always end in one",
                            )
                        )
                    if kind == AuditPosition.KIND_MISSING:
                        digest = missing_digest(event_seq, confirmed_by)
                        if bytes(leaf_stored) == merkle.leaf_hash(digest):
                            raise _Stop(
                                LogProblem(
                                    position,
                                    event_seq,
                                    "missing",
                                    f"deleted before it was sealed: event #{confirmed_by} confirms it had committed",
                                )
                            )
                        raise _Stop(
                            LogProblem(
                                position,
                                event_seq,
                                "moved",
                                "a missing position whose leaf is not the sealer's finding",
                            )
                        )
                    if seq is None:
                        if tombstones.covering(position) is not None:
                            # purged for retention: the leaf stays, and the checkpoints still sign over it
                            prev_hash = _PURGED  # an adopted chain's next link points into the purged range
                            advance(bytes(leaf_stored), position, None, None)
                            continue
                        raise _Stop(
                            LogProblem(
                                position, event_seq, "missing", "the event sealed here is not in the database (deleted)"
                            )
                        )
                    event_digest = _hash_row(row)
                    if event_digest != row[18]:
                        raise _Stop(
                            LogProblem(position, seq, "changed", f"content does not match its hash {row[18][:16]}…")
                        )
                    leaf = merkle.leaf_hash(bytes.fromhex(event_digest))
                    if bytes(leaf_stored) != leaf:
                        raise _Stop(
                            LogProblem(
                                position,
                                seq,
                                "moved",
                                "this position was sealed with another event's leaf (rows swapped or replaced)",
                            )
                        )
                    if low is None:  # the adopted hash chain
                        if version != 1 or seq != position:
                            raise _Stop(
                                LogProblem(
                                    position,
                                    seq,
                                    "out-of-order",
                                    f"the adopted chain holds event #{position} here, not #{seq}",
                                )
                            )
                        expected = prev_hash if position > 1 else services.GENESIS_HASH
                        if expected is not _PURGED and row[17] != expected:
                            raise _Stop(
                                LogProblem(
                                    position,
                                    seq,
                                    "relinked",
                                    f"prev_hash {row[17][:16]}… is not the hash of event #{seq - 1}",
                                )
                            )
                        prev_hash = event_digest
                    else:
                        if xid is None or not low <= xid < high:
                            raise _Stop(
                                LogProblem(
                                    position,
                                    seq,
                                    "out-of-order",
                                    f"transaction {xid} does not belong in checkpoint {checkpoint.size} (transactions "
                                    f"{low}..{high - 1}): moved from another batch",
                                )
                            )
                        if last_seq is not None and seq <= last_seq:
                            raise _Stop(
                                LogProblem(
                                    position - 1,
                                    last_seq,
                                    "out-of-order",
                                    f"position {position} holds event #{seq}: a batch is sealed in the events' order",
                                )
                            )
                    last_seq = seq
                    signatures.add(position, row[20], row[19], row[18])
                    advance(leaf, position, seq, event_digest)
                if progress:
                    progress(len(rows))
        if checkpoint is not None:
            raise _Stop(
                LogProblem(
                    position + 1,
                    None,
                    "truncated",
                    f"the log ends at position {position}, but checkpoint {checkpoint.size} covers positions up to "
                    f"{checkpoint.size}",
                )
            )
    except _Stop as stop:
        bad = signatures.first_bad(before=stop.problem.position)
        raise _Stop(bad or stop.problem) from None
    bad = signatures.first_bad(before=None)
    if bad is not None:
        raise _Stop(bad)


def _against_seen(seen, frontier, position, seq, digest) -> None:
    if seen.root is not None and frontier.root().hex() != seen.root:
        raise _Stop(
            LogProblem(
                None,
                None,
                "forked",
                f"the first {seen.size} positions have another root than checkpoint {seen.size} seen on {seen.time}: "
                "history up to it was rewritten",
            )
        )
    if seen.head_hash is not None and digest != seen.head_hash:
        raise _Stop(
            LogProblem(
                position,
                seq,
                "forked",
                f"hash {digest[:16]}… differs from {seen.head_hash[:16]}… verified on {seen.time}: history up to the "
                "checkpoint was rewritten",
            )
        )


def _size_before(checkpoints, checkpoint) -> int:
    earlier = [c.size for c in checkpoints if c.size < checkpoint.size]
    return earlier[-1] if earlier else 0


def _checkpoint_at_or_before(checkpoints, size):
    found = None
    for checkpoint in checkpoints:
        if checkpoint.size <= size:
            found = checkpoint
    return found


def _segment(previous, checkpoint) -> tuple[int | None, int | None]:
    """The transaction ids the positions up to ``checkpoint`` may hold; (None, None) for the adopted chain."""
    if checkpoint is None:
        return 0, 0
    if checkpoint.horizon == 0:
        return None, None
    return (previous.horizon if previous is not None else 0), checkpoint.horizon


def _hash_row(row) -> str:
    """The SHA-256 of an event's canonical form, from a row of _ROWS (services.canonical_bytes, without models)."""
    (_, _, _, _, _, seq, version, xid, created_at, tenant_id, actor_id, actor_label, event_type, target_type,
     target_id, payload, confirms, prev_hash, _, _, key_id) = row  # fmt: skip
    payload = json.loads(payload)  # Django reads jsonb as text
    if version == 1:
        body = {
            "seq": seq, "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "tenant_id": tenant_id, "actor_id": actor_id, "actor_label": actor_label, "event_type": event_type,
            "target_type": target_type, "target_id": target_id, "payload": payload, "prev_hash": prev_hash,
            "key_id": key_id,
        }  # fmt: skip
    else:
        body = {
            "v": version, "seq": seq, "xid": xid,
            "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "tenant_id": tenant_id, "actor_id": actor_id, "actor_label": actor_label, "event_type": event_type,
            "target_type": target_type, "target_id": target_id, "payload": payload, "confirms": list(confirms),
            "key_id": key_id,
        }  # fmt: skip
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


# --------------------------------------------------------------------------- signatures, on every core


def _check_chunk(keys: dict[str, str], items: list[tuple]) -> list[int]:
    """Positions (or numbers) in ``items`` whose signature does not verify; runs in a worker process."""
    public = {key_id: Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_)) for key_id, hex_ in keys.items()}
    bad = []
    for where, key_id, signature, digest in items:
        key = public.get(key_id)
        try:
            if key is None:
                raise InvalidSignature
            key.verify(bytes.fromhex(signature), digest.encode())
        except (InvalidSignature, ValueError):
            bad.append(where)
    return bad


class _Signatures:
    """Ed25519 checks in chunks, on ``jobs`` processes (inline for one); ``first_bad`` names the earliest failure."""

    def __init__(self, keys: dict[str, str], jobs: int) -> None:
        self.keys, self.items, self.futures = keys, [], []
        # fork: the workers only verify signatures (no database, no Django), and start in milliseconds
        self.pool = (
            ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) if jobs > 1 else None
        )
        self.failed: list[int] = []

    def add(self, position: int, key_id: str, signature: str, digest: str) -> None:
        self.items.append((position, key_id, signature, digest))
        if len(self.items) >= SIGNATURE_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self.items:
            return
        if self.pool is None:
            self.failed += _check_chunk(self.keys, self.items)
        else:
            self.futures.append(self.pool.submit(_check_chunk, self.keys, self.items))
        self.items = []

    def first_bad(self, *, before: int | None) -> LogProblem | None:
        self._flush()
        try:
            for future in self.futures:
                self.failed += future.result()
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
        failed = [p for p in self.failed if before is None or p < before]
        if not failed:
            return None
        position = min(failed)
        seq = AuditPosition.objects.filter(position=position).values_list("event_seq", flat=True).first()
        event = AuditEvent.objects.filter(seq=seq).first()
        kind, detail = services.verify_event_signature(event, services.trusted_public_keys()) or (
            "bad-signature",
            "signature does not verify",
        )
        return LogProblem(position, seq, kind, detail)


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
