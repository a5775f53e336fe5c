"""Walking sealed positions: the per-position checks of audit verification, over one range, on one connection.

``verification`` cuts the positions to check into ranges that start after a checkpoint and end at one, and
runs ``walk_range`` on each: inline for a small log, else in worker processes, each on its own connection
inside the verifier's snapshot (``pg_export_snapshot``), so every range sees the same log. A range starts from
the tree frontier of the checkpoint before it (its root checked against that signed checkpoint by the caller)
and returns the frontier it ends with, which must be the next range's start.

For each position: the event is there, its content gives its hash, the leaf is that hash's, the event belongs
in its checkpoint's transactions and in the batch's order (or, in the adopted hash chain, links to the one
before), its signature unless an earlier run checked it, and at every checkpoint the root the leaves give.
Missing and purged positions are checked for what they are.

Plain psycopg here: no ORM and never the Django connection (a forked worker must not touch the parent's). The
event's hash and signature are checked from its row (``rows``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from apps.audit import merkle
from apps.audit.rows import EVENT_SQL, HASH, PREV_HASH, hash_row, signed
from apps.audit.sealing import TILE_LEVEL, missing_digest
from apps.audit.services import GENESIS_HASH

PURGED = "purged"  # the previous event of an adopted hash chain was purged: its link cannot be checked
SIGNATURE_KINDS = ("bad-signature", "untrusted-key", "unknown-key")


@dataclass
class LogProblem:
    """The first thing wrong with the log.

    ``position``: where in the log (None for an event not sealed yet, or the checkpoint file itself); ``seq``: the
    event's number when one is concerned. ``kind``: missing, changed, moved, out-of-order, relinked, bad-signature,
    untrusted-key, unknown-key, bad-checkpoint, rewritten, bad-node, truncated, forked, inserted or
    bad-tombstone (docs/operations/audit.md says what each means).
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
class Seen:
    """The checkpoint seen outside the database (or the state verified last), when its size falls in the range."""

    size: int
    root: str | None
    head_hash: str | None
    time: str


@dataclass
class Range:
    """Positions ``first``..``last`` to walk (``open_end``: and any after ``last``, which must not exist).

    ``signatures_after``: positions up to it had their signatures checked by the run that recorded ``verified``
    (whose root, reached in the walk, must be the same), so only later ones are checked again.

    ``frontier``: the tree of positions ``1..first-1``; ``checkpoints``: (size, root, horizon) of those ending in
    the range, in order (signatures already checked); ``previous_horizon``: the horizon of the checkpoint at or
    before ``first - 1`` (None: there is none); ``prev_hash``: in the adopted chain, the hash of the event at
    ``first - 1`` (or PURGED); ``nodes``: the stored tree nodes completed in the range; ``purged``: tombstones'
    (first, last); ``seq_low``/``seq_high``: bounds of the events' numbers there (for the join).
    """

    first: int
    last: int
    open_end: bool
    frontier: list[bytes]
    checkpoints: list[tuple[int, str, int]]
    previous_horizon: int | None
    prev_hash: str | None
    nodes: dict[tuple[int, int], bytes]
    purged: list[tuple[int, int]]
    seq_low: int
    seq_high: int
    seen: Seen | None = None
    verified: Seen | None = None  # the state a previous run verified, when its size falls in the range
    signatures_after: int = 0  # signatures are checked at the positions after this one
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class RangeResult:
    first: int
    checked: int = 0
    checkpoints: int = 0
    signatures: int = 0
    frontier: list[bytes] = field(default_factory=list)
    problem: LogProblem | None = None


class _Found(Exception):
    def __init__(self, problem: LogProblem) -> None:
        self.problem = problem


_ROWS = (
    "SELECT p.position, p.event_seq, p.leaf_hash, p.kind, p.confirmed_by, " + EVENT_SQL + " "
    "FROM audit_auditposition p "
    "LEFT JOIN audit_auditevent e ON e.seq = p.event_seq AND e.seq BETWEEN %(seq_low)s AND %(seq_high)s "
    "WHERE p.position >= %(first)s {upper} ORDER BY p.position"
)

FETCH = 5000


def walk_range(conn, job: Range, progress=None) -> RangeResult:
    """Walk ``job`` on psycopg connection ``conn`` (in the verifier's snapshot); the result names the first problem
    (a signature problem with a provisional detail: the caller says more, with the database's key table)."""
    result = RangeResult(first=job.first)
    try:
        _walk(conn, job, result, progress)
    except _Found as found:
        result.problem = found.problem
    return result


def _walk(conn, job: Range, result: RangeResult, progress) -> None:
    frontier = merkle.Frontier(job.first - 1, job.frontier)
    checkpoints = iter(job.checkpoints)
    checkpoint = next(checkpoints, None)
    previous_horizon = job.previous_horizon
    low, high = _segment(previous_horizon, checkpoint)
    segment_first, last_seq, prev_hash = job.first, None, job.prev_hash
    nodes, seen, verified, purged = job.nodes, job.seen, job.verified, job.purged
    keys = {key_id: Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_)) for key_id, hex_ in job.keys.items()}

    def covered(position: int) -> bool:
        return any(first <= position <= last for first, last in purged)

    def on_node(level: int, node_index: int, digest: bytes) -> None:
        if level >= TILE_LEVEL and nodes.get((level, node_index)) != digest:
            first = (node_index << level) + 1
            raise _Found(
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
        nonlocal checkpoint, previous_horizon, low, high, segment_first, last_seq
        frontier.append(leaf, on_node)
        if seen is not None and position == seen.size and (digest is not None or seen.root is not None):
            _against_seen(seen, frontier, position, seq, digest)
        if verified is not None and position == verified.size and frontier.root().hex() != verified.root:
            raise _Found(
                LogProblem(
                    None,
                    None,
                    "forked",
                    f"the first {verified.size} positions no longer have the root verified on {verified.time}: "
                    "sealed history was rewritten",
                )
            )
        if position == checkpoint[0]:
            if frontier.root().hex() != checkpoint[1]:
                raise _Found(
                    LogProblem(
                        segment_first,
                        None,
                        "rewritten",
                        f"positions {segment_first}..{checkpoint[0]} do not have the root checkpoint "
                        f"{checkpoint[0]} signed: an event or a purged range's leaf was added, removed, changed or "
                        "reordered there",
                    )
                )
            result.checkpoints += 1
            previous_horizon, checkpoint = checkpoint[2], next(checkpoints, None)
            low, high = _segment(previous_horizon, checkpoint)
            segment_first, last_seq = position + 1, None
        result.checked += 1

    upper = "" if job.open_end else "AND p.position <= %(last)s"
    params = {"first": job.first, "last": job.last, "seq_low": job.seq_low, "seq_high": job.seq_high}
    position = job.first - 1
    with conn.cursor(name=f"audit_walk_{job.first}") as cursor:
        cursor.itersize = FETCH
        cursor.execute(_ROWS.format(upper=upper), params)
        while rows := cursor.fetchmany(FETCH):
            for row in rows:
                position += 1
                (at, event_seq, leaf_stored, kind, confirmed_by, seq, version, xid) = row[:8]
                leaf_stored = bytes(leaf_stored)
                if at != position:
                    raise _Found(
                        LogProblem(
                            position, None, "missing", f"position {position} is not in the log (found {at} next)"
                        )
                    )
                if checkpoint is None:
                    raise _Found(
                        LogProblem(
                            position,
                            event_seq,
                            "inserted",
                            "a position after the last checkpoint: sealed positions always end in one",
                        )
                    )
                if kind == "missing":
                    if leaf_stored == merkle.leaf_hash(missing_digest(event_seq, confirmed_by)):
                        raise _Found(
                            LogProblem(
                                position,
                                event_seq,
                                "missing",
                                f"deleted before it was sealed: event #{confirmed_by} confirms it had committed",
                            )
                        )
                    raise _Found(
                        LogProblem(
                            position, event_seq, "moved", "a missing position whose leaf is not the sealer's finding"
                        )
                    )
                if seq is None:
                    if covered(position):
                        # purged for retention: the leaf stays, and the checkpoints still sign over it
                        prev_hash = PURGED  # an adopted chain's next link points into the purged range
                        advance(leaf_stored, position, None, None)
                        continue
                    raise _Found(
                        LogProblem(
                            position, event_seq, "missing", "the event sealed here is not in the database (deleted)"
                        )
                    )
                event = row[5:]
                stored_hash = event[HASH]
                event_digest = hash_row(event)
                if event_digest != stored_hash:
                    raise _Found(
                        LogProblem(position, seq, "changed", f"content does not match its hash {stored_hash[:16]}…")
                    )
                leaf = merkle.leaf_hash(bytes.fromhex(event_digest))
                if leaf_stored != leaf:
                    raise _Found(
                        LogProblem(
                            position,
                            seq,
                            "moved",
                            "this position was sealed with another event's leaf (rows swapped or replaced)",
                        )
                    )
                if low is None:  # the adopted hash chain
                    if version != 1 or seq != position:
                        raise _Found(
                            LogProblem(
                                position,
                                seq,
                                "out-of-order",
                                f"the adopted chain holds event #{position} here, not #{seq}",
                            )
                        )
                    expected = prev_hash if position > 1 else GENESIS_HASH
                    if expected != PURGED and event[PREV_HASH] != expected:
                        raise _Found(
                            LogProblem(
                                position,
                                seq,
                                "relinked",
                                f"prev_hash {event[PREV_HASH][:16]}… is not the hash of event #{seq - 1}",
                            )
                        )
                    prev_hash = event_digest
                else:
                    if xid is None or not low <= xid < high:
                        raise _Found(
                            LogProblem(
                                position,
                                seq,
                                "out-of-order",
                                f"transaction {xid} does not belong in checkpoint {checkpoint[0]} (transactions "
                                f"{low}..{high - 1}): moved from another batch",
                            )
                        )
                    if last_seq is not None and seq <= last_seq:
                        raise _Found(
                            LogProblem(
                                position - 1,
                                last_seq,
                                "out-of-order",
                                f"position {position} holds event #{seq}: a batch is sealed in the events' order",
                            )
                        )
                last_seq = seq
                if position > job.signatures_after:
                    if not signed(keys, event):
                        raise _Found(LogProblem(position, seq, "bad-signature", "signature does not verify"))
                    result.signatures += 1
                advance(leaf, position, seq, event_digest)
            if progress is not None:
                progress(len(rows))
    if checkpoint is not None:
        if job.open_end:
            raise _Found(
                LogProblem(
                    position + 1,
                    None,
                    "truncated",
                    f"the log ends at position {position}, but checkpoint {checkpoint[0]} covers positions up to "
                    f"{checkpoint[0]}",
                )
            )
        raise _Found(LogProblem(position + 1, None, "missing", f"position {position + 1} is not in the log"))
    result.frontier = frontier.hashes


def _against_seen(seen: Seen, frontier: merkle.Frontier, position: int, seq, digest) -> None:
    if seen.root is not None and frontier.root().hex() != seen.root:
        raise _Found(
            LogProblem(
                None,
                None,
                "forked",
                f"the first {seen.size} positions have another root than checkpoint {seen.size} seen on {seen.time}: "
                "history up to it was rewritten",
            )
        )
    if seen.head_hash is not None and digest != seen.head_hash:
        raise _Found(
            LogProblem(
                position,
                seq,
                "forked",
                f"hash {digest[:16]}… differs from {seen.head_hash[:16]}… verified on {seen.time}: history up to the "
                "checkpoint was rewritten",
            )
        )


def _segment(previous_horizon: int | None, checkpoint) -> tuple[int | None, int | None]:
    """The transaction ids the positions up to ``checkpoint`` may hold; (None, None) for the adopted chain."""
    if checkpoint is None:
        return 0, 0
    if checkpoint[2] == 0:
        return None, None
    return (previous_horizon or 0), checkpoint[2]
