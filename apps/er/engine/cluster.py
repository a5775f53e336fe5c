"""Clustering of accepted pairs that does not chain unrelated records together through one weak link.

The rule (docs/er.md, "Clustering"):

1. Pairs at or above the model's ``threshold`` are accepted; they form connected components.
2. Inside a component, every pair of records that was not a candidate is scored too (components
   are small; one larger than ``max_component`` records keeps only the scores it has), so each
   merge below can see all the evidence about the records it would put together.
3. Accepted pairs are taken from the most to the least probable. A pair joins its two clusters
   unless some pair across them scores below the model's ``cannot_link`` probability: one strong
   "these two are different people" vetoes the merge, however strong the links that lead to it.

So A~B strong, B~C strong and A~C strongly negative leaves {A, B} and {C} (B goes with whichever
of A and C it matches better), where plain connected components would return {A, B, C}.
Ties are broken by record order, so the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_COMPONENT = 200


@dataclass
class Clustering:
    labels: np.ndarray  # cluster number per record (0..clusters-1); singletons have their own number
    vetoed: int  # accepted pairs that did not merge because of a cannot-link pair
    completed: int  # pairs scored during clustering because blocking had not proposed them


def _find(parent: np.ndarray, x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    parent = np.arange(n)
    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([_find(parent, x) for x in range(n)], dtype=np.int64)


def cluster(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    probabilities: np.ndarray,
    *,
    threshold: float,
    cannot_link: float,
    score: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    allowed: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    max_component: int = MAX_COMPONENT,
    shift: float = 0.0,
) -> Clustering:
    """Cluster ``n`` records from scored pairs (i, j, probability).

    ``score(i, j)`` scores pairs that were not candidates (step 2); without it only the given
    scores can veto. ``allowed(i, j)`` says which pairs may be compared at all (linking two
    sources compares no pairs within one source); pairs it rejects are never scored.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    known = dict(zip((np.minimum(i, j) * n + np.maximum(i, j)).tolist(), probabilities.tolist(), strict=True))
    clipped = np.clip(probabilities, 1e-12, 1 - 1e-12)
    accepted = np.log(clipped / (1 - clipped)) + shift >= np.log(threshold / (1 - threshold))
    ai, aj, ap = i[accepted], j[accepted], probabilities[accepted]
    completed = 0
    if score is not None and len(ai):
        roots = _components(n, ai, aj)
        members: dict[int, list[int]] = {}
        for record in np.unique(np.concatenate([ai, aj])).tolist():
            members.setdefault(int(roots[record]), []).append(record)
        missing_i, missing_j = [], []
        for group in members.values():
            if 3 <= len(group) <= max_component:
                for x in range(len(group)):
                    for y in range(x + 1, len(group)):
                        a, b = group[x], group[y]
                        if a * n + b not in known:
                            missing_i.append(a)
                            missing_j.append(b)
        if missing_i:
            mi = np.asarray(missing_i, dtype=np.int64)
            mj = np.asarray(missing_j, dtype=np.int64)
            if allowed is not None:
                keep = allowed(mi, mj)
                mi, mj = mi[keep], mj[keep]
            if len(mi):
                extra = score(mi, mj)
                known.update(zip((mi * n + mj).tolist(), np.asarray(extra, dtype=np.float64).tolist(), strict=True))
                completed = len(mi)
    order = np.lexsort((aj, ai, -ap))
    # Each record's known strong "different" partners: a merge is vetoed when one of them is on the other side.
    negative: dict[int, list[int]] = {}
    for key, p in known.items():
        if p < cannot_link:
            a, b = divmod(key, n)
            negative.setdefault(a, []).append(b)
            negative.setdefault(b, []).append(a)
    parent = np.arange(n)
    members_of: dict[int, list[int]] = {}
    vetoed = 0
    for k in order.tolist():
        a, b = int(ai[k]), int(aj[k])
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb:
            continue
        left = members_of.get(ra, [ra])
        right = members_of.get(rb, [rb])
        # Look from the smaller cluster: its members' negative partners, are any in the other cluster?
        small, big_root = (left, rb) if len(left) <= len(right) else (right, ra)
        if any(_find(parent, y) == big_root for x in small for y in negative.get(x, ())):
            vetoed += 1
            continue
        root, other = min(ra, rb), max(ra, rb)
        parent[other] = root
        big, little = (left, right) if len(left) >= len(right) else (right, left)
        big.extend(little)  # the smaller list joins the larger one: merging stays near-linear overall
        members_of[root] = big
        members_of.pop(other, None)
    roots = np.array([_find(parent, x) for x in range(n)], dtype=np.int64)
    _, labels = np.unique(roots, return_inverse=True)
    return Clustering(labels=labels.astype(np.int64), vetoed=vetoed, completed=completed)


def cluster_pairs(labels: np.ndarray, sources: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of records that share a cluster, ``i < j`` (only pairs across sources when ``sources`` differ)."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    bounds = np.flatnonzero(np.diff(sorted_labels)) + 1
    firsts: list[int] = []
    seconds: list[int] = []
    linking = sources is not None and len(sources) and int(sources.min()) != int(sources.max())
    for group in np.split(order, bounds):
        if len(group) < 2:
            continue
        group = np.sort(group).tolist()
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                a, b = group[x], group[y]
                if linking and sources[a] == sources[b]:
                    continue
                firsts.append(a)
                seconds.append(b)
    return np.asarray(firsts, dtype=np.int64), np.asarray(seconds, dtype=np.int64)
