"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification: pure Python, no Django, no database.

The audit log is the tree whose leaves are the sealed events' SHA-256 digests, in log order:
``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``, the root of ``n`` leaves
splits them at the largest power of two below ``n`` (RFC 9162 section 2.1.1). Why this is our own code and not
a library: docs/adr/0007-audit-merkle-log.md. ``scripts/audit_verify_proof.py`` carries its own copy of the
verification half, so an auditor needs one file; the tests run both against the same RFC 6962 test vectors.

Storage is the caller's: ``Frontier`` is the compact range the sealer keeps (the roots of the perfect subtrees
the leaves so far decompose into, O(log n) hashes), and proofs ask a ``subtree`` callback for the root of a
perfect, aligned subtree ``(level, index)``, which the audit app answers from its stored nodes and leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): where RFC 9162 splits ``n`` leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: list[bytes]) -> bytes:
    """The root of these leaf hashes (MTH of RFC 9162, computed bottom-up through a frontier)."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def perfect_levels(size: int) -> list[int]:
    """The levels of the perfect subtrees ``size`` leaves decompose into, left (largest) to right."""
    return [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]


class Frontier:
    """The compact range of a tree: the roots of its perfect subtrees, left to right, and its size.

    Appending a leaf merges equal-sized subtrees, so appending ``k`` leaves costs ``k`` + (number of merges)
    hashes, never a re-read of earlier leaves. ``on_node(level, index, hash)`` is told of each perfect subtree
    completed by a merge (the sealer stores those at or above a level, for proofs).
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} hashes, not {len(self.hashes)}")

    def append(self, leaf: bytes, on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        hashes = self.hashes
        hashes.append(leaf)
        size = self.size + 1
        level = 0
        while not (size >> level) & 1:  # a trailing zero bit: two subtrees of this level merge
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            level += 1
            if on_node is not None:
                on_node(level, (size >> level) - 1, hashes[-1])
        self.size = size

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        hashes = self.hashes
        result = hashes[-1]
        for index in range(len(hashes) - 2, -1, -1):
            result = node_hash(hashes[index], result)
        return result

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)


# --------------------------------------------------------------------------- proofs

Subtree = Callable[[int, int], bytes]  # (level, index) -> root of the perfect subtree of leaves [index << level, ...)


def range_root(start: int, end: int, subtree: Subtree) -> bytes:
    """MTH of leaves [start, end), where ``start`` is aligned as in every range an RFC 9162 proof names."""
    width = end - start
    if width <= 0:
        raise ValueError("an empty range has no root in a proof")
    if width & (width - 1) == 0:
        level = width.bit_length() - 1
        return subtree(level, start >> level)
    k = split_point(width)
    return node_hash(range_root(start, start + k, subtree), range_root(start + k, end, subtree))


def inclusion_path(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1: the audit path of leaf ``index`` (0-based) in a tree of ``size``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(range_root(start + k, end, subtree))
            end = start + k
        else:
            path.append(range_root(start, start + k, subtree))
            start += k
    path.reverse()
    return path


def consistency_path(first: int, second: int, subtree: Subtree) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1 between trees of ``first`` and ``second`` leaves."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second} leaves")
    path: list[bytes] = []

    def subproof(m: int, start: int, end: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                path.append(range_root(start, end, subtree))
            return
        k = split_point(n)
        if m <= k:
            subproof(m, start, start + k, complete)
            path.append(range_root(start + k, end, subtree))
        else:
            subproof(m - k, start + k, end, False)
            path.append(range_root(start, start + k, subtree))

    subproof(first, 0, second, True)
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` in the tree ``root`` of ``size``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: does ``path`` prove the tree of ``second`` leaves extends the one of ``first``?"""
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path  # every tree extends the empty one
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
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
