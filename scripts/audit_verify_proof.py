#!/usr/bin/env python3
"""Check an IntelGraph audit proof or exported segment offline: no Django, no database, only `cryptography`.

    python3 audit_verify_proof.py --keys-file trusted_keys PROOF.json
    python3 audit_verify_proof.py --key 3b6a27bc… SEGMENT.jsonl --checkpoint checkpoint.json

A proof (``manage.py audit_prove EVENT``) holds one event (the exact body its hash covers, the hash, its Ed25519
signature), its position, the RFC 9162 audit path and the signed checkpoint (log size, root hash, time, key id).
This script checks that the body hashes to the hash, that the signature verifies with a key YOU trust, that the
path leads from the event's leaf to the checkpoint's root, and that the checkpoint is signed by a key you trust.
A segment (``manage.py audit_export``) holds every position between two checkpoints: the script rebuilds the tree
from the events and checks every checkpoint in between. ``--checkpoint`` names a checkpoint you hold from
elsewhere (the installation's checkpoint file, one published earlier): the proof's must be the same, or follow
from it by the consistency proof the file carries (``audit_prove --since SIZE``).

Keys: ``--key HEX`` (raw Ed25519 public key, 64 hex digits; repeat for rotated keys) or ``--keys-file FILE`` (one
key a line, ``# comments`` allowed, the format of AUDIT_TRUSTED_KEYS_FILE). A key's id is the first 16 hex digits
of the SHA-256 of its raw bytes. Exit status 0 when everything checks, 1 with one line per problem otherwise.
Formats: docs/operations/audit.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHECKPOINT_FORMAT = "intelgraph.audit-checkpoint"
PROOF_FORMAT = "intelgraph.audit-proof"
SEGMENT_FORMAT = "intelgraph.audit-segment"
TOMBSTONE_FORMAT = "intelgraph.audit-tombstone"


class Failed(Exception):
    pass


# --------------------------------------------------------------------------- RFC 6962 / 9162


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path
    if not 0 < first < second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """The roots of the perfect subtrees of a tree, left to right: append leaves, read the root."""

    def __init__(self, size: int, hashes: list[bytes]) -> None:
        if len(hashes) != bin(size).count("1"):
            raise Failed(f"a frontier of {size} leaves has {bin(size).count('1')} hashes, not {len(hashes)}")
        self.size, self.hashes = size, list(hashes)

    def append(self, leaf: bytes) -> None:
        self.hashes.append(leaf)
        self.size += 1
        level = 0
        while not (self.size >> level) & 1:
            right = self.hashes.pop()
            self.hashes[-1] = node_hash(self.hashes[-1], right)
            level += 1

    def root(self) -> bytes:
        if not self.hashes:
            return hashlib.sha256(b"").digest()
        result = self.hashes[-1]
        for digest in reversed(self.hashes[:-1]):
            result = node_hash(digest, result)
        return result


# --------------------------------------------------------------------------- signatures and documents


def canonical_json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_keys(hexes: list[str], files: list[str]) -> dict[str, Ed25519PublicKey]:
    values = list(hexes)
    for name in files:
        for number, line in enumerate(Path(name).read_text(encoding="utf-8").splitlines(), start=1):
            value = line.split("#", 1)[0].strip()
            if value:
                values.append(value)
                if len(value) != 64:
                    raise Failed(f"{name} line {number}: not a 64-hex-digit Ed25519 public key")
    keys = {}
    for value in values:
        try:
            raw = bytes.fromhex(value)
            keys[hashlib.sha256(raw).hexdigest()[:16]] = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise Failed(f"{value[:20]}…: not a 64-hex-digit Ed25519 public key") from None
    if not keys:
        raise Failed("give the public key(s) you trust: --key HEX or --keys-file FILE")
    return keys


def check_signature(data: bytes, signature, key_id, keys: dict, what: str) -> None:
    key = keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        raise Failed(f"{what} is signed by key {key_id}, which is not among the keys you trust")
    try:
        key.verify(bytes.fromhex(signature), data)
    except (InvalidSignature, ValueError, TypeError):
        raise Failed(f"{what}: the signature does not verify with key {key_id}") from None


def check_checkpoint(checkpoint, keys: dict, what: str = "the checkpoint") -> tuple[int, bytes]:
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise Failed(f"{what} is not an {CHECKPOINT_FORMAT} document")
    if checkpoint.get("version") != 2:
        raise Failed(f"{what} has version {checkpoint.get('version')!r}; this script reads version 2")
    document = {k: v for k, v in checkpoint.items() if k != "signature"}
    check_signature(canonical_json(document), checkpoint.get("signature"), checkpoint.get("key_id"), keys, what)
    size, root = checkpoint.get("size"), checkpoint.get("root")
    if not isinstance(size, int) or not isinstance(root, str) or len(root) != 64:
        raise Failed(f"{what} lacks a size or a root")
    return size, bytes.fromhex(root)


def check_tombstone(item, keys: dict, what: str) -> dict:
    """A purge tombstone: its format and a signature by a trusted key; returns it."""
    if not isinstance(item, dict) or item.get("format") != TOMBSTONE_FORMAT:
        raise Failed(f"{what}: not an {TOMBSTONE_FORMAT} document")
    signed = {k: v for k, v in item.items() if k != "signature"}
    check_signature(canonical_json(signed), item.get("signature"), item.get("key_id"), keys, what)
    if not all(isinstance(item.get(k), int) for k in ("first", "last", "count")):
        raise Failed(f"{what}: first, last and count must be numbers")
    return item


def root_of(leaves: list[bytes]) -> bytes:
    """The Merkle tree hash (RFC 6962) of these leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    tree = Frontier(0, [])
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def check_event(item: dict, keys: dict, what: str) -> bytes:
    """The event's digest, after checking its body hashes to it and its signature."""
    body, digest = item.get("body"), item.get("hash")
    if not isinstance(body, dict) or not isinstance(digest, str):
        raise Failed(f"{what}: not an event (body and hash are needed)")
    if hashlib.sha256(canonical_json(body)).hexdigest() != digest:
        raise Failed(f"{what}: the body does not hash to {digest[:16]}… (changed)")
    if body.get("key_id") != item.get("key_id"):
        raise Failed(f"{what}: the body names key {body.get('key_id')}, the signature key {item.get('key_id')}")
    check_signature(digest.encode(), item.get("signature"), item.get("key_id"), keys, what)
    return bytes.fromhex(digest)


def describe(body: dict) -> str:
    return (
        f"event #{body.get('seq')} {body.get('event_type')} by {body.get('actor_label')!r} at {body.get('created_at')}"
        + (f", tenant {body['tenant_id']}" if body.get("tenant_id") is not None else "")
    )


# --------------------------------------------------------------------------- proofs and segments


def verify_proof(proof: dict, keys: dict, held: dict | None) -> list[str]:
    if proof.get("type") != "inclusion" or proof.get("version") != 1:
        raise Failed("not an inclusion proof of version 1")
    size, root = check_checkpoint(proof.get("checkpoint"), keys)
    digest = check_event(proof.get("event") or {}, keys, "the event")
    index, tree_size = proof.get("leaf_index"), proof.get("tree_size")
    if tree_size != size:
        raise Failed(f"the proof is for a tree of {tree_size} leaves, the checkpoint has {size}")
    path = [bytes.fromhex(node) for node in proof.get("path", [])]
    if not verify_inclusion(leaf_hash(digest), index, size, path, root):
        raise Failed(f"the audit path does not lead from the event to the root of checkpoint {size}")
    said = [
        f"OK: {describe(proof['event']['body'])}",
        f"  is at position {index + 1} of the log, included in checkpoint {size} (root {root.hex()[:16]}…, "
        f"{proof['checkpoint'].get('time')}, origin {proof['checkpoint'].get('origin')}, key {proof['checkpoint'].get('key_id')})",
    ]
    if held is not None:
        said.append(against_held(held, proof, size, root, keys))
    return said


def against_held(held: dict, proof: dict, size: int, root: bytes, keys: dict) -> str:
    held_size, held_root = check_checkpoint(held, keys, "your checkpoint")
    if held.get("origin") != proof["checkpoint"].get("origin"):
        raise Failed(
            f"your checkpoint is of log {held.get('origin')!r}, the proof of {proof['checkpoint'].get('origin')!r}"
        )
    if held_size == size:
        if held_root != root:
            raise Failed(f"your checkpoint {held_size} has another root: the log was forked or rewritten")
        return f"  and checkpoint {size} is the one you hold"
    if held_size > size:
        raise Failed(
            f"your checkpoint ({held_size}) is newer: ask for a proof against it (audit_prove --size {held_size})"
        )
    consistency = proof.get("consistency")
    if not consistency or consistency.get("from", {}).get("size") != held_size:
        raise Failed(
            f"the proof has no consistency proof from your checkpoint {held_size} (audit_prove --since {held_size})"
        )
    path = [bytes.fromhex(node) for node in consistency.get("path", [])]
    if not verify_consistency(held_size, size, held_root, root, path):
        raise Failed(f"checkpoint {size} does not extend your checkpoint {held_size}: the log was forked or rewritten")
    return f"  and checkpoint {size} extends the checkpoint {held_size} you hold (consistency proven)"


def verify_segment(lines: list[str], keys: dict, held: dict | None) -> list[str]:
    header = json.loads(lines[0])
    if header.get("format") != SEGMENT_FORMAT or header.get("version") != 1 or header.get("type") != "header":
        raise Failed(f"line 1: not an {SEGMENT_FORMAT} header of version 1")
    first = header["first"]
    before = header.get("before")
    frontier = Frontier(first - 1, [bytes.fromhex(node) for node in header.get("frontier", [])])
    horizon_low = 0
    if before is not None:
        size, root = check_checkpoint(before, keys, "the checkpoint before the segment")
        if size != first - 1 or frontier.root() != root:
            raise Failed("the frontier in the header does not give the root of the checkpoint before the segment")
        horizon_low = before.get("horizon", 0)
    elif first != 1:
        raise Failed("a segment that does not start at position 1 needs the checkpoint before it")
    position, batch, checkpoints, events, last = first - 1, [], 0, 0, None
    tombstone, purged_leaves, purged = None, [], 0
    for number, line in enumerate(lines[1:], start=2):
        item = json.loads(line)
        kind = item.get("type")
        if kind == "tombstone":
            tombstone = check_tombstone(item.get("tombstone"), keys, f"line {number}: tombstone")
            purged_leaves = [] if tombstone["first"] == position + 1 else None  # None: it began before the segment
            continue
        if kind == "checkpoint":
            item = item.get("checkpoint")
            size, root = check_checkpoint(item, keys, f"line {number}: checkpoint")
            if size != frontier.size:
                raise Failed(f"line {number}: checkpoint {size} after position {frontier.size}")
            if frontier.root() != root:
                raise Failed(f"positions up to {size} do not have the root checkpoint {size} signed (rewritten)")
            horizon = item.get("horizon", 0)
            if horizon:
                for at, body in batch:
                    xid = body.get("xid")
                    if not isinstance(xid, int) or not horizon_low <= xid < horizon:
                        raise Failed(f"position {at}: transaction {xid} does not belong before checkpoint {size}")
                seqs = [body.get("seq") for _, body in batch]
                if seqs != sorted(set(seqs)):
                    raise Failed(f"positions before checkpoint {size} are not in the order the sealer gives")
            horizon_low, batch, last = horizon, [], item
            checkpoints += 1
            continue
        position += 1
        if item.get("position") != position:
            raise Failed(f"line {number}: position {item.get('position')}, expected {position} (a position is missing)")
        if kind == "event":
            digest = check_event(item, keys, f"position {position}")
            batch.append((position, item["body"]))
            events += 1
        elif kind == "missing":
            finding = canonical_json(
                {"missing_event": item.get("missing_event"), "confirmed_by": item.get("confirmed_by")}
            )
            digest = hashlib.sha256(finding).digest()
            raise Failed(
                f"position {position}: event #{item.get('missing_event')} was deleted before it was sealed "
                f"(event #{item.get('confirmed_by')} confirms it had committed)"
            )
        elif kind == "purged":
            if tombstone is None or not tombstone["first"] <= position <= tombstone["last"]:
                raise Failed(f"position {position}: purged, but no signed tombstone covers it")
            leaf = bytes.fromhex(item.get("leaf_hash", ""))
            frontier.append(leaf)
            purged += 1
            if purged_leaves is not None:
                purged_leaves.append(leaf)
                if position == tombstone["last"] and root_of(purged_leaves).hex() != tombstone["leaves_root"]:
                    raise Failed(
                        f"positions {tombstone['first']}..{tombstone['last']}: the leaves are not those the tombstone "
                        "was signed over"
                    )
            continue
        elif kind == "gone":
            raise Failed(f"position {position}: event #{item.get('event_seq')} is no longer in the database (deleted)")
        else:
            raise Failed(f"line {number}: unknown line type {kind!r}")
        frontier.append(leaf_hash(digest))
    if last is None or last.get("size") != header.get("last") or frontier.size != header.get("last"):
        raise Failed(f"the segment should end with checkpoint {header.get('last')} (truncated)")
    said = [
        f"OK: positions {first}..{frontier.size}: {events} event(s), every signature and {checkpoints} checkpoint(s) "
        f"checked; last checkpoint {frontier.size} (root {frontier.root().hex()[:16]}…, {last.get('time')})"
    ]
    if purged:
        said.append(f"  {purged} position(s) purged for retention, under signed tombstones (their leaves checked)")
    if held is not None:
        held_size, held_root = check_checkpoint(held, keys, "your checkpoint")
        if held_size == frontier.size and held_root != frontier.root():
            raise Failed(f"your checkpoint {held_size} has another root: the log was forked or rewritten")
        said.append(
            f"  and it matches the checkpoint {held_size} you hold"
            if held_size == frontier.size
            else f"  (your checkpoint is of size {held_size}: export up to it to compare)"
        )
    return said


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="a proof (JSON) or an exported segment (JSON lines)")
    parser.add_argument("--key", action="append", default=[], help="a trusted Ed25519 public key, 64 hex digits")
    parser.add_argument("--keys-file", action="append", default=[], help="a file of trusted public keys")
    parser.add_argument("--checkpoint", help="a checkpoint you hold from elsewhere, to compare with")
    args = parser.parse_args(argv)
    try:
        keys = load_keys(args.key, args.keys_file)
        held = json.loads(Path(args.checkpoint).read_text(encoding="utf-8")) if args.checkpoint else None
        text = Path(args.file).read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise Failed(f"{args.file} is empty")
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
        if isinstance(document, dict) and document.get("format") == PROOF_FORMAT:
            said = verify_proof(document, keys, held)
        else:
            said = verify_segment(lines, keys, held)
    except Failed as exc:
        print(f"NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        print(f"NOT VERIFIED: cannot read the input ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    print("\n".join(said))
    return 0


if __name__ == "__main__":
    sys.exit(main())
