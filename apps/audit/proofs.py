"""Proofs anyone can check offline against a signed checkpoint and the public key (scripts/audit_verify_proof.py).

- ``event_proof``: the inclusion proof of one sealed event (RFC 9162 audit path) against a checkpoint, with the
  event as evidence (the exact body its hash covers, its hash and signature) and optionally a consistency proof
  from an older checkpoint the auditor already holds.
- ``segment_export``: the positions between two checkpoints as JSON lines, with the frontier of the tree before
  them, so a verifier rebuilds the tree from the events and compares it with every checkpoint in between. Ranges
  the retention purge removed come as their signed tombstone and the leaf hashes that stayed.

Formats: docs/operations/audit.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from apps.audit import merkle, services
from apps.audit.errors import AuditProofError
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition, AuditTombstone
from apps.audit.sealing import StoredTree

PROOF_FORMAT = "intelgraph.audit-proof"
SEGMENT_FORMAT = "intelgraph.audit-segment"


def _checkpoint(size: int | None) -> AuditCheckpoint:
    checkpoints = AuditCheckpoint.objects.order_by("-size")
    checkpoint = checkpoints.first() if size is None else checkpoints.filter(size=size).first()
    if checkpoint is None:
        raise AuditProofError(
            "the log has no checkpoint yet" if size is None else f"there is no checkpoint of size {size}"
        )
    return checkpoint


def event_position(event: AuditEvent) -> AuditPosition | None:
    return AuditPosition.objects.filter(event_seq=event.seq, kind=AuditPosition.KIND_EVENT).first()


def event_proof(event: AuditEvent, *, size: int | None = None, since: int | None = None) -> dict:
    """The inclusion proof of ``event`` against the checkpoint of ``size`` (default: the latest), plus a consistency
    proof from the checkpoint of size ``since`` when given. AuditProofError when it cannot be proved (yet)."""
    position = event_position(event)
    if position is None:
        raise AuditProofError(f"event #{event.seq} is not sealed yet: the sealer has not reached it")
    checkpoint = _checkpoint(size)
    if position.position > checkpoint.size:
        raise AuditProofError(
            f"event #{event.seq} is at position {position.position}, after checkpoint {checkpoint.size}"
        )
    tree = StoredTree()
    path = merkle.inclusion_path(position.position - 1, checkpoint.size, tree.subtree)
    leaf = merkle.leaf_hash(bytes.fromhex(event.hash))
    if not merkle.verify_inclusion(
        leaf, position.position - 1, checkpoint.size, path, bytes.fromhex(checkpoint.root_hash)
    ):
        raise AuditProofError(
            f"event #{event.seq} does not prove against checkpoint {checkpoint.size}: the log is damaged (audit_verify)"
        )
    proof = {
        "format": PROOF_FORMAT,
        "version": 1,
        "type": "inclusion",
        "position": position.position,
        "leaf_index": position.position - 1,
        "tree_size": checkpoint.size,
        "leaf_hash": leaf.hex(),
        "path": [node.hex() for node in path],
        "event": services.event_evidence(event),
        "checkpoint": services.checkpoint_signed(checkpoint),
    }
    if since is not None:
        proof["consistency"] = consistency_proof(since, checkpoint.size, tree=tree)
    return proof


def proof_recorded(event: AuditEvent, proof: dict, *, actor=None, via: str) -> None:
    """Record that an inclusion proof of ``event`` was handed out (``audit.proved``): who, where, against what."""
    services.record(
        "audit.proved",
        actor=actor,
        tenant=event.tenant_id,
        target=event,
        payload={"seq": event.seq, "position": proof["position"], "tree_size": proof["tree_size"], "via": via},
    )


def export_recorded(*, after: int, upto: int | None, lines: int, actor=None, via: str) -> None:
    """Record that a segment of the log was exported (``audit.exported``)."""
    services.record("audit.exported", actor=actor, payload={"after": after, "upto": upto, "lines": lines, "via": via})


def consistency_proof(first: int, second: int, *, tree: StoredTree | None = None) -> dict:
    """The RFC 9162 consistency proof between the checkpoints of sizes ``first`` and ``second``."""
    older, newer = _checkpoint(first), _checkpoint(second)
    if older.size > newer.size:
        raise AuditProofError(f"checkpoint {older.size} is newer than checkpoint {newer.size}")
    tree = tree or StoredTree()
    path = merkle.consistency_path(older.size, newer.size, tree.subtree) if older.size < newer.size else []
    return {
        "from": services.checkpoint_signed(older),
        "to_size": newer.size,
        "path": [node.hex() for node in path],
    }


def segment_export(*, after: int, upto: int | None = None) -> Iterator[str]:
    """JSON lines of the positions after checkpoint ``after`` (0: from the start) up to checkpoint ``upto``
    (default: the latest): a header with the frontier of the tree of ``after`` leaves and the checkpoint there,
    then each position's event (or missing finding), each checkpoint right after its last position."""
    last = _checkpoint(upto)
    before = None if after == 0 else _checkpoint(after)
    if before is not None and before.size >= last.size:
        raise AuditProofError(f"checkpoint {after} is not before checkpoint {last.size}")
    frontier = StoredTree().frontier(after)
    yield _line(
        {
            "format": SEGMENT_FORMAT,
            "version": 1,
            "type": "header",
            "first": after + 1,
            "last": last.size,
            "before": services.checkpoint_signed(before) if before is not None else None,
            "frontier": [node.hex() for node in frontier.hashes],
        }
    )
    checkpoints = iter(AuditCheckpoint.objects.filter(size__gt=after, size__lte=last.size).order_by("size"))
    boundary = next(checkpoints)
    tombstones = {t.first: t for t in AuditTombstone.objects.filter(last__gt=after, first__lte=last.size)}
    purged_until = 0
    for tombstone in tombstones.values():
        if tombstone.first <= after:  # the segment starts inside a purged range
            yield _line({"type": "tombstone", "tombstone": services.tombstone_signed(tombstone)})
            purged_until = tombstone.last
    positions = AuditPosition.objects.filter(position__gt=after, position__lte=last.size).order_by("position")
    for chunk in _chunks(positions.iterator(chunk_size=2000), 2000):
        events = AuditEvent.objects.in_bulk([p.event_seq for p in chunk if p.kind == p.KIND_EVENT], field_name="seq")
        for position in chunk:
            tombstone = tombstones.get(position.position)
            if tombstone is not None:
                yield _line({"type": "tombstone", "tombstone": services.tombstone_signed(tombstone)})
                purged_until = tombstone.last
            if position.position <= purged_until:
                # purged for retention: the leaf alone, which the tombstone and the checkpoints sign over
                yield _line(
                    {"type": "purged", "position": position.position, "leaf_hash": bytes(position.leaf_hash).hex()}
                )
            elif position.kind == position.KIND_MISSING:
                yield _line(
                    {
                        "type": "missing",
                        "position": position.position,
                        "missing_event": position.event_seq,
                        "confirmed_by": position.confirmed_by,
                    }
                )
            elif position.event_seq in events:
                item = services.event_evidence(events[position.event_seq])
                yield _line({"type": "event", "position": position.position, **item})
            else:
                yield _line({"type": "gone", "position": position.position, "event_seq": position.event_seq})
            if position.position == boundary.size:
                yield _line({"type": "checkpoint", "checkpoint": services.checkpoint_signed(boundary)})
                boundary = next(checkpoints, boundary)


def _chunks(iterator, size):
    chunk = []
    for item in iterator:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _line(document: dict) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False) + "\n"
