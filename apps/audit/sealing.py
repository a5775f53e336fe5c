"""The sealer: gives committed audit events their positions in the Merkle log and signs a checkpoint per batch.

One sealer runs at a time (``manage.py audit_sealer`` holds a session advisory lock that no request path ever
takes). Each batch is one REPEATABLE READ transaction:

1. ``H = pg_snapshot_xmin(pg_current_snapshot())``: every transaction with an id below ``H`` has finished, so
   each committed event with ``xid < H`` is visible in this snapshot, and no event with ``xid < H`` can appear
   later (ids are handed out in increasing order, and those transactions are over).
2. The batch is the events with ``H_prev <= xid < H`` (``H_prev``: the last checkpoint's horizon), in ``seq``
   order. By induction every event with ``xid < H_prev`` is already sealed, so nothing is skipped or sealed
   twice, and the range query needs no anti-join. (A long batch is cut at a transaction boundary.)
3. Positions, completed tree nodes and the signed checkpoint (size, root, time, horizon) are inserted; COMMIT.
   The batch is sealed exactly when its checkpoint exists: a sealer killed anywhere before the commit leaves
   nothing, and the next run starts again from the last checkpoint.

Then the checkpoint is copied to the file outside the database (AUDIT_CHECKPOINT_FILE).
The full argument, and what a long-running transaction does to the lag: docs/adr/0007-audit-merkle-log.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from apps.audit import merkle, services
from apps.audit.errors import AuditCheckpointError, AuditSealingError
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition, AuditTreeNode

logger = logging.getLogger(__name__)

SEALER_LOCK = 0x1A_0D18  # session advisory lock: held by the one running sealer, never by a request path
TILE_LEVEL = 8  # perfect subtrees of 2**8 leaves and more are stored (AuditTreeNode)


# --------------------------------------------------------------------------- the stored tree


class StoredTree:
    """Roots of perfect subtrees of the sealed log, from stored nodes (level >= TILE_LEVEL) or hashed from leaves.

    Used by the sealer (its frontier after a restart), proofs and incremental verification; nothing it returns is
    trusted on its own: every use ends in a comparison with a signed root.
    """

    def __init__(self, nodes: dict[tuple[int, int], bytes] | None = None) -> None:
        self._tiles: dict[int, list[bytes]] = {}
        self._nodes = nodes  # every stored node, when the caller read them already

    def subtree(self, level: int, index: int) -> bytes:
        if level >= TILE_LEVEL:
            if self._nodes is not None:
                stored = self._nodes.get((level, index))
            else:
                stored = AuditTreeNode.objects.filter(level=level, index=index).values_list("hash", flat=True).first()
            if stored is None:
                raise AuditSealingError(f"tree node {level}/{index} is not stored (the log is shorter, or tampered)")
            return bytes(stored)
        tile = (index << level) >> TILE_LEVEL
        leaves = self._tile(tile)
        start = (index << level) - (tile << TILE_LEVEL)
        part = leaves[start : start + (1 << level)]
        if len(part) != 1 << level:
            raise AuditSealingError(
                f"leaves {(index << level) + 1}.. are not all stored (the log is shorter, or tampered)"
            )
        return merkle.root_of(part)

    def _tile(self, tile: int) -> list[bytes]:
        if tile not in self._tiles:
            first = tile << TILE_LEVEL
            self._tiles[tile] = [
                bytes(leaf)
                for leaf in AuditPosition.objects.filter(position__gt=first, position__lte=first + (1 << TILE_LEVEL))
                .order_by("position")
                .values_list("leaf_hash", flat=True)
            ]
        return self._tiles[tile]

    def frontier(self, size: int) -> merkle.Frontier:
        hashes, start = [], 0
        for level in merkle.perfect_levels(size):
            hashes.append(self.subtree(level, start >> level))
            start += 1 << level
        return merkle.Frontier(size, hashes)


# --------------------------------------------------------------------------- sealing


@dataclass
class SealResult:
    """What one batch sealed: positions ``first``..``checkpoint.size``, of which ``missing`` stand for events
    confirmed by later ones but deleted before they were sealed."""

    checkpoint: AuditCheckpoint
    first: int
    events: int
    missing: list[int]
    adopted: bool = False


class Sealer:
    """Seals batches; keeps the tree's frontier between batches (rebuilt and checked whenever it is not current)."""

    def __init__(self, *, batch_max: int | None = None) -> None:
        self.batch_max = batch_max or settings.AUDIT_SEALER_BATCH_MAX
        self._frontier: merkle.Frontier | None = None
        self._root: str | None = None

    def seal(self) -> SealResult | None:
        """Seal one batch of committed events; None when there was nothing to seal."""
        if connection.in_atomic_block:
            raise AuditSealingError("the sealer runs its own transactions; call it outside transaction.atomic()")
        try:
            with transaction.atomic():
                result = self._seal()
        except BaseException:
            self._frontier = None  # rolled back: the next batch starts again from the last checkpoint
            raise
        if result is not None:
            try:
                services.checkpoint_file_advance(result.checkpoint)
            except AuditCheckpointError as exc:  # the batch is sealed; the file catches up with the next one
                logger.error("audit checkpoint file not written: %s", exc)
            if result.missing:
                _report_missing(result)
        return result

    def _seal(self) -> SealResult | None:
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            (horizon,) = cursor.fetchone()
        last = AuditCheckpoint.objects.order_by("-size").first()
        self._check_continuity(last)
        frontier = self._current_frontier(last)
        if last is None or last.horizon == 0:
            adopted = self._adopt(last, frontier)
            if adopted is not None:
                return adopted
        low = last.horizon if last is not None else 0
        high = self._cut(low, horizon)
        rows = list(
            AuditEvent.objects.filter(xid__gte=low, xid__lt=high).order_by("seq").values_list("seq", "hash", "confirms")
        )
        if not rows:
            return None
        entries = [(seq, bytes.fromhex(digest), AuditPosition.KIND_EVENT, None) for seq, digest, _ in rows]
        missing = self._missing(rows)
        if missing:
            entries = sorted(entries + missing)
        return self._write(last, frontier, entries, horizon=high, missing=[m[0] for m in missing])

    def _check_continuity(self, last: AuditCheckpoint | None) -> None:
        """Refuse to seal on a database behind the checkpoint seen outside it (a restore, a truncated log)."""
        try:
            seen = services.checkpoint_file_load()
        except AuditCheckpointError as exc:
            raise AuditSealingError(f"not sealing: {exc}") from None
        size = last.size if last is not None else 0
        if seen is None:
            return
        if seen.root is None:  # a version 1 file: the hash chain's head, verified before the upgrade
            head = AuditEvent.objects.filter(seq=seen.size).values_list("hash", flat=True).first()
            if head != seen.head_hash:
                raise AuditSealingError(
                    f"not sealing: event #{seen.size} is not the one verified on {seen.time} "
                    f"({settings.AUDIT_CHECKPOINT_FILE}): the hash chain was rewritten or cut; run audit_verify"
                )
            return
        if seen.size <= size:
            root = AuditCheckpoint.objects.filter(size=seen.size).values_list("root_hash", flat=True).first()
            if root != seen.root:
                raise AuditSealingError(
                    f"not sealing: checkpoint {seen.size} in the database differs from the one seen on {seen.time} "
                    f"({settings.AUDIT_CHECKPOINT_FILE}): the log was forked; run audit_verify"
                )
            return
        if seen.size > size:
            raise AuditSealingError(
                f"not sealing: the log has {size} sealed positions but checkpoint {seen.size} of {seen.time} was seen "
                f"({settings.AUDIT_CHECKPOINT_FILE}); the database was restored or truncated. Run audit_verify; "
                "remove the file only to accept the shorter log"
            )

    def _current_frontier(self, last: AuditCheckpoint | None) -> merkle.Frontier:
        if last is None:
            return merkle.Frontier()
        if self._frontier is not None and self._frontier.size == last.size and self._root == last.root_hash:
            return self._frontier
        problem = services.checkpoint_problem(last)
        if problem:
            raise AuditSealingError(f"not sealing: the last checkpoint (size {last.size}) is not genuine: {problem}")
        try:
            frontier = StoredTree().frontier(last.size)
        except AuditSealingError as exc:
            raise AuditSealingError(f"not sealing: {exc}") from None
        if frontier.root().hex() != last.root_hash:
            raise AuditSealingError(
                f"not sealing: the stored tree does not match the last checkpoint (size {last.size}); run audit_verify"
            )
        self._frontier, self._root = frontier, last.root_hash
        return frontier

    def _adopt(self, last: AuditCheckpoint | None, frontier: merkle.Frontier) -> SealResult | None:
        """Seal the hash-chained events from before the Merkle log (version 1, no xid) as the first segment(s)."""
        after = 0
        if last is not None:
            after = AuditPosition.objects.filter(position=last.size).values_list("event_seq", flat=True).first() or 0
        rows = list(
            AuditEvent.objects.filter(xid__isnull=True, seq__gt=after)
            .order_by("seq")
            .values_list("seq", "hash")[: self.batch_max]
        )
        if not rows:
            return None
        entries = [(seq, bytes.fromhex(digest), AuditPosition.KIND_EVENT, None) for seq, digest in rows]
        result = self._write(last, frontier, entries, horizon=0, missing=[])
        result.adopted = True
        return result

    def _cut(self, low: int, horizon: int) -> int:
        """The batch's upper transaction bound: ``horizon``, or lower so that at most batch_max events go in (a
        single transaction with more is taken whole)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT xid FROM audit_auditevent WHERE xid >= %s AND xid < %s ORDER BY xid OFFSET %s LIMIT 1",
                [low, horizon, self.batch_max],
            )
            row = cursor.fetchone()
        if row is None:
            return horizon
        return row[0] if row[0] > low else row[0] + 1

    def _missing(self, rows) -> list[tuple]:
        """Positions for events a later event of the batch confirms but that are gone (deleted before sealing)."""
        in_batch = {seq for seq, _, _ in rows}
        confirmed: dict[int, int] = {}
        for seq, _, confirms in rows:
            for number in confirms or ():
                if number not in in_batch:
                    confirmed.setdefault(number, seq)
        if not confirmed:
            return []
        gone = set(confirmed) - set(AuditEvent.objects.filter(seq__in=list(confirmed)).values_list("seq", flat=True))
        if gone:
            gone -= set(AuditPosition.objects.filter(event_seq__in=list(gone)).values_list("event_seq", flat=True))
        entries = []
        keys = services.trusted_public_keys()
        for number in sorted(gone):
            by = AuditEvent.objects.get(seq=confirmed[number])
            if services.event_hash(by) != by.hash or services.verify_event_signature(by, keys):
                continue  # a forged confirmation proves nothing; verification reports the forged event itself
            entries.append((number, missing_digest(number, by.seq), AuditPosition.KIND_MISSING, by.seq))
        return entries

    def _write(self, last, frontier: merkle.Frontier, entries, *, horizon: int, missing: list[int]) -> SealResult:
        frontier = frontier.copy()
        first = frontier.size + 1
        nodes: list[tuple[int, int, bytes]] = []

        def keep(level: int, index: int, digest: bytes) -> None:
            if level >= TILE_LEVEL:
                nodes.append((level, index, digest))

        positions = []
        for seq, digest, kind, confirmed_by in entries:
            leaf = merkle.leaf_hash(digest)
            frontier.append(leaf, keep)
            positions.append((frontier.size, seq, leaf, kind, confirmed_by))
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(
                "COPY audit_auditposition (position, event_seq, leaf_hash, kind, confirmed_by) FROM STDIN"
            ) as copy:
                for row in positions:
                    copy.write_row(row)
            if nodes:
                with raw.copy('COPY audit_audittreenode (level, "index", hash) FROM STDIN') as copy:
                    for row in nodes:
                        copy.write_row(row)
        checkpoint = AuditCheckpoint(
            size=frontier.size, root_hash=frontier.root().hex(), horizon=horizon, created_at=timezone.now()
        )
        services.checkpoint_sign(checkpoint)
        checkpoint.save(force_insert=True)
        transaction.on_commit(lambda: self._advance(frontier, checkpoint.root_hash))
        return SealResult(checkpoint=checkpoint, first=first, events=len(entries), missing=missing)

    def _advance(self, frontier: merkle.Frontier, root: str) -> None:
        self._frontier, self._root = frontier, root


def missing_digest(seq: int, confirmed_by: int) -> bytes:
    """The leaf data of a missing position: the digest of the sealer's finding, which names both events."""
    finding = services.canonical_json({"missing_event": seq, "confirmed_by": confirmed_by})
    return hashlib.sha256(finding).digest()


def _report_missing(result: SealResult) -> None:
    from intelgraph.alerts import alert

    numbers = ", ".join(f"#{n}" for n in result.missing)
    logger.error("audit events %s were deleted before they were sealed (positions %s..)", numbers, result.first)
    alert(
        key=f"audit-missing-{result.missing[0]}",
        subject="Audit events deleted before sealing",
        body=(
            f"The audit sealer found events {numbers} confirmed by later events but gone from the database. "
            f"Their positions in checkpoint {result.checkpoint.size} say so; run manage.py audit_verify."
        ),
    )


def seal_pending(*, batch_max: int | None = None, timeout: float = 60.0) -> int:
    """Seal until every event committed before the call is sealed (tests, ``audit_sealer --once``); returns positions.

    Waits for the horizon to pass the events (a transaction still open anywhere in the cluster holds it back) and
    raises AuditSealingError after ``timeout`` seconds saying which transaction is in the way.
    """
    if not sealer_lock_try():
        raise AuditSealingError(f"another sealer is running (backend {sealer_lock_holder()}); it seals these events")
    try:
        target = AuditEvent.objects.filter(xid__isnull=False).order_by("-xid").values_list("xid", flat=True).first()
        sealer, sealed, deadline = Sealer(batch_max=batch_max), 0, time.monotonic() + timeout
        while True:
            result = sealer.seal()
            if result is not None:
                sealed += result.events
                continue
            last = AuditCheckpoint.objects.order_by("-size").first()
            if target is None or (last is not None and last.horizon > target):
                return sealed
            if time.monotonic() > deadline:
                raise AuditSealingError(f"events are still unsealed after {timeout:.0f} s: {_holding_back()}")
            time.sleep(0.05)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SEALER_LOCK])


def _holding_back() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, datname, state, backend_xid::text, now() - xact_start FROM pg_stat_activity "
            "WHERE backend_xid IS NOT NULL ORDER BY age(backend_xid) DESC LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None:
        return "no open transaction holds them back"
    pid, database, state, xid, age = row
    return f"transaction {xid} of backend {pid} ({database}, {state}, open for {age}) holds the horizon back"


# --------------------------------------------------------------------------- the sealer process


def sealer_lock_try() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SEALER_LOCK])
        return bool(cursor.fetchone()[0])


def sealer_lock_holder() -> int | None:
    """The backend pid holding the sealer's lock, if any (for messages and /readyz)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [SEALER_LOCK],
        )
        row = cursor.fetchone()
    return row[0] if row else None


SAY_EVERY = 10.0


def _summary(results: list[SealResult]) -> str:
    events = sum(r.events for r in results)
    missing = sum(len(r.missing) for r in results)
    return (
        f"sealed {events} position(s) {results[0].first}..{results[-1].checkpoint.size} in {len(results)} batch(es)"
        + (" (adopted hash chain)" if any(r.adopted for r in results) else "")
        + (f", {missing} MISSING (deleted before sealing)" if missing else "")
    )


def run_sealer(*, interval: float, say=logger.info, stop: threading.Event | None = None) -> None:
    """Seal until SIGTERM/SIGINT (or ``stop``): wait for the sealer lock, then a batch every ``interval`` seconds,
    at once again while batches come full. Database errors are reported and retried; nothing is lost meanwhile
    (events wait, unsealed, in their table)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    sealer, holding, waiting_said = Sealer(), False, False
    pending, said_at = [], 0.0  # batches since the last line said (one line per SAY_EVERY seconds at most)
    while not stop.is_set():
        try:
            if not holding:
                holding = sealer_lock_try()
                if not holding:
                    if not waiting_said:
                        say(f"another sealer holds the lock (backend {sealer_lock_holder()}); waiting")
                        waiting_said = True
                    stop.wait(5)
                    continue
                say(f"sealing (interval {interval:g} s, batches of at most {sealer.batch_max})")
                services.record(
                    "audit.sealer_started",
                    payload={"pid": os.getpid(), "interval": interval, "batch_max": sealer.batch_max},
                )
            result = sealer.seal()
            if result is not None:
                pending.append(result)
                if result.adopted or result.missing or time.monotonic() - said_at >= SAY_EVERY:
                    say(_summary(pending))
                    pending, said_at = [], time.monotonic()
                if result.events >= sealer.batch_max:
                    continue
        except AuditSealingError as exc:
            logger.error("%s", exc)
            stop.wait(max(interval, 5))
        except OperationalError as exc:  # the database went away: reconnect, take the lock again
            logger.error("audit sealer: database error, retrying: %s", exc)
            holding = False
            connection.close()
            stop.wait(max(interval, 2))
        stop.wait(interval)
    if pending:
        say(_summary(pending))
    if holding:
        try:
            # Recorded before the lock goes: the next sealer (or this one, restarted) seals it.
            services.record("audit.sealer_stopped", payload={"pid": os.getpid()})
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SEALER_LOCK])
        except OperationalError:
            pass
    say("sealer stopped")
