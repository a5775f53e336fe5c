"""The whole run, and the pieces a distributed run calls one by one.

In-process (``er_evaluate``, tests)::

    result = resolve(records, kind="person", model=default_model())

Spread over workers (one Celery task per block)::

    blocks = plan_blocks(records, kind="person", pairs_per_block=50_000)   # list of lists of (id_a, id_b)
    scored = [score_pairs(model, records_by_id, block, kind="person") for block in blocks]  # anywhere, any order
    clusters = cluster_scored(model, records_by_id, itertools.chain(*scored), kind="person")

Each block carries only record ids; a worker needs the attributes of the records its block
names and the model (by SHA-256), nothing else, so blocks score independently and in any order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from apps.er.engine.blocking import candidate_pairs
from apps.er.engine.cluster import Clustering, cluster, cluster_pairs
from apps.er.engine.model import Model
from apps.er.engine.prepare import Prepared, prepare

CHUNK = 20_000  # pairs compared at a time in one process (bounded memory, progress steps)
ADAPT_MODES = ("auto", "prior", "em", "none")
EM_ANCHOR = 0.0  # Dirichlet prior at the trained model in EM (training.adapt_em); 1-3 gained < 0.04 F1 on hard sets
# adapt="auto" keeps EM's answer only when the trained model agrees with most of it: of the pairs
# EM accepts, the share the re-based trained model does not accept must stay under GUARD_SHARE
# (ADR 0006: at most 10% where EM is right, 32% and more where it drifted to "same household").
GUARD_SHARE = 0.2


def batch_prior(probabilities: np.ndarray, model_prior: float, *, iterations: int = 200) -> tuple[float, float]:
    """(share of matches among this batch's candidate pairs, log-odds shift that re-bases the scores on it).

    The weights of a model are likelihood ratios and carry over between data sets; the intercept
    also holds the share of matches among the training candidates, which does not (a file of
    duplicates has many more than a tenant with a few). This re-estimates that share on the batch
    by EM over the scores (Saerens, Latinne & Decaestecker 2002) and moves every pair's log-odds by
    the difference. The pairs' ranking never changes; only where the threshold falls does.
    """
    if not len(probabilities):
        return model_prior, 0.0
    clipped = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1 - 1e-12)
    logits = np.log(clipped / (1 - clipped))
    base = np.log(model_prior / (1 - model_prior))
    prior = model_prior
    for _ in range(iterations):
        shift = np.log(prior / (1 - prior)) - base
        updated = float(np.clip(np.mean(1 / (1 + np.exp(-(logits + shift)))), 1e-6, 0.95))
        if abs(updated - prior) < 1e-9:
            prior = updated
            break
        prior = updated
    return prior, float(np.log(prior / (1 - prior)) - base)


def _shifted(probabilities: np.ndarray, shift: float) -> np.ndarray:
    if not shift:
        return probabilities
    clipped = np.clip(probabilities, 1e-12, 1 - 1e-12)
    return 1 / (1 + np.exp(-(np.log(clipped / (1 - clipped)) + shift)))


@dataclass
class Resolution:
    prepared: Prepared
    i: np.ndarray  # candidate pairs
    j: np.ndarray
    probabilities: np.ndarray  # after re-basing on the batch's share of matches
    clustering: Clustering
    timings: dict[str, float] = field(default_factory=dict)
    prior: float = 0.0  # estimated share of matches among the candidate pairs
    shift: float = 0.0  # log-odds added to the model's scores for this batch
    model: Model | None = None  # the model that scored (the EM-adapted one when adapt="em")
    adapted: str = ""  # how the scores were adapted: "prior", "em" or "none" (auto resolves to one of them)
    guard: float | None = None  # adapt="auto": share of EM's accepted pairs the trained model rejects

    @property
    def labels(self) -> np.ndarray:
        return self.clustering.labels

    def clusters(self) -> list[list[str]]:
        """Record ids grouped by cluster, clusters of two or more only, in a stable order."""
        groups: dict[int, list[str]] = {}
        for index, label in enumerate(self.labels.tolist()):
            groups.setdefault(label, []).append(self.prepared.ids[index])
        return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])

    def matched_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of records put in one cluster (only across sources when linking)."""
        return cluster_pairs(self.labels, self.prepared.sources if self.prepared.linking else None)


def _allowed(prepared: Prepared) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    if not prepared.linking:
        return None
    sources = prepared.sources
    return lambda i, j: sources[i] != sources[j]


def resolve(
    records: Sequence[tuple[str, Mapping]],
    *,
    kind: str,
    model: Model,
    sources: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
    on_pairs: Callable[[int], None] | None = None,
    adapt: str = "prior",
) -> Resolution:
    """Normalise, block, score and cluster ``(record id, attributes)`` records of one kind.

    ``sources`` (one number per record) turns deduplication into linkage: only records of
    different sources are compared and clustered together. ``on_pairs(total)`` is told how many
    candidate pairs there are, ``progress(done)`` how many more were scored (for a progress bar).
    ``adapt`` is ``"prior"`` (default: re-base the scores on the batch's share of matches, see
    ``batch_prior``), ``"em"`` (re-estimate every weight on the batch by EM, unsupervised, starting
    from the model: ``training.adapt_em``), ``"auto"`` (EM, kept only if it passes ``em_guard``,
    else prior) or ``"none"`` (the model exactly as it is).
    """
    if adapt not in ADAPT_MODES:
        raise ValueError(f"adapt must be one of {', '.join(ADAPT_MODES)}")
    kind_model = model.for_kind(kind)
    timings = {}
    start = time.perf_counter()
    prepared = prepare(records, kind, sources)
    timings["prepare"] = time.perf_counter() - start
    mark = time.perf_counter()
    i, j = candidate_pairs(prepared)
    timings["block"] = time.perf_counter() - mark
    if on_pairs is not None:
        on_pairs(len(i))
    mark = time.perf_counter()
    probabilities = np.zeros(len(i), dtype=np.float64)
    for begin in range(0, len(i), CHUNK):
        end = min(begin + CHUNK, len(i))
        probabilities[begin:end] = model.score(prepared, i[begin:end], j[begin:end])
        if progress is not None:
            progress(end - begin)
    prior, shift, adapted, guard = kind_model.prior, 0.0, adapt, None
    if adapt in ("prior", "auto"):
        (prior, shift), adapted = batch_prior(probabilities, kind_model.prior), "prior"
    if adapt in ("em", "auto") and len(i):  # no candidate pairs: nothing for EM to learn from
        from apps.er.engine.training import adapt_em  # training code loads only when EM is asked for

        levels = np.concatenate(
            [model.levels(prepared, i[b : b + CHUNK], j[b : b + CHUNK]) for b in range(0, len(i), CHUNK)]
        )
        em_kind_model, _ = adapt_em(kind_model, levels, anchor=EM_ANCHOR)
        em_probabilities = em_kind_model.probabilities(levels)
        if adapt == "auto":
            guard = em_guard(em_probabilities, _shifted(probabilities, shift), kind_model.threshold)
        if adapt == "em" or guard < GUARD_SHARE:
            kind_model, probabilities, adapted = em_kind_model, em_probabilities, "em"
            prior, shift = em_kind_model.prior, 0.0
            model = Model(kinds={**model.kinds, kind: kind_model}, metadata={**model.metadata, "adapted": "em"})
    timings["score"] = time.perf_counter() - mark
    mark = time.perf_counter()
    clustering = cluster(
        len(prepared),
        i,
        j,
        probabilities,
        threshold=kind_model.threshold,
        cannot_link=kind_model.cannot_link,
        score=lambda a, b: model.score(prepared, a, b),
        allowed=_allowed(prepared),
        shift=shift,
    )
    timings["cluster"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start
    return Resolution(
        prepared, i, j, _shifted(probabilities, shift), clustering, timings, prior, shift, model, adapted, guard
    )


def em_guard(em_probabilities: np.ndarray, trained_probabilities: np.ndarray, threshold: float) -> float:
    """Of the pairs EM accepts, the share the trained model (re-based on the batch) scores below ``threshold``.

    EM is unsupervised: on a batch full of look-alike non-matches (households, twins, group companies
    at one address) its "match" class can drift to "same household" or "same address". The trained
    model has seen such non-matches labelled; when it clearly rejects a large share of what EM
    accepts, EM has learned something else than identity and its answer is not used.
    """
    accepted = em_probabilities >= threshold
    if not accepted.any():
        return 0.0
    return float(np.mean(trained_probabilities[accepted] < threshold))


# ---------------------------------------------------------------------------- distributed runs


def plan_blocks(
    records: Sequence[tuple[str, Mapping]],
    *,
    kind: str,
    sources: Sequence[int] | None = None,
    pairs_per_block: int = 50_000,
) -> list[list[tuple[str, str]]]:
    """Candidate pairs as record-id pairs, cut into blocks of at most ``pairs_per_block`` to score independently.

    A block's pairs are consecutive in (first record, second record) order, so a block touches a
    narrow range of records and a worker loads few of them.
    """
    if pairs_per_block < 1:
        raise ValueError("pairs_per_block must be at least 1")
    prepared = prepare(records, kind, sources)
    i, j = candidate_pairs(prepared)
    ids = prepared.ids
    pairs = [(ids[a], ids[b]) for a, b in zip(i.tolist(), j.tolist(), strict=True)]
    return [pairs[k : k + pairs_per_block] for k in range(0, len(pairs), pairs_per_block)]


def score_pairs(
    model: Model, records: Mapping[str, Mapping], pairs: Iterable[tuple[str, str]], *, kind: str
) -> list[tuple[str, str, float]]:
    """``(id_a, id_b, match probability)`` for each pair; ``records`` maps ids to attributes (only these pairs' needed)."""
    pairs = list(pairs)
    if not pairs:
        return []
    wanted = sorted({record_id for pair in pairs for record_id in pair})
    prepared = prepare([(record_id, records[record_id]) for record_id in wanted], kind)
    i, j = prepared.rows(pairs)
    probabilities = model.score(prepared, i, j)
    return [(a, b, float(p)) for (a, b), p in zip(pairs, probabilities.tolist(), strict=True)]


def cluster_scored(
    model: Model,
    records: Mapping[str, Mapping],
    scored: Iterable[tuple[str, str, float]],
    *,
    kind: str,
    sources: Mapping[str, int] | None = None,
    adapt: str = "none",
) -> list[list[str]]:
    """Clusters (two or more record ids each) from the scored pairs of every block.

    Records of accepted pairs are loaded from ``records`` to score the pairs inside each
    component that blocking did not propose (see ``cluster``). ``adapt="prior"`` re-bases the scores
    on the batch's share of matches as ``resolve`` does; only meaningful when ``scored`` holds every
    candidate pair of the batch, not a selection (default ``"none"``: the model's probabilities).
    """
    if adapt not in ("prior", "none"):
        raise ValueError('cluster_scored adapts with "prior" or "none" (EM: adapt the model first, then score)')
    kind_model = model.for_kind(kind)
    scored = list(scored)
    involved = sorted({record_id for a, b, _ in scored for record_id in (a, b)})
    prepared = prepare(
        [(record_id, records[record_id]) for record_id in involved],
        kind,
        [sources.get(record_id, 0) for record_id in involved] if sources else None,
    )
    i, j = prepared.rows(scored)
    p = np.fromiter((s for _, _, s in scored), dtype=np.float64, count=len(scored))
    _, shift = batch_prior(p, kind_model.prior) if adapt == "prior" else (kind_model.prior, 0.0)
    result = cluster(
        len(prepared),
        i,
        j,
        p,
        threshold=kind_model.threshold,
        cannot_link=kind_model.cannot_link,
        score=lambda a, b: model.score(prepared, a, b),
        allowed=_allowed(prepared),
        shift=shift,
    )
    groups: dict[int, list[str]] = {}
    for k, label in enumerate(result.labels.tolist()):
        groups.setdefault(label, []).append(involved[k])
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])


# ---------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Metrics:
    true_positives: int
    predicted: int
    actual: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else (1.0 if not self.actual else 0.0)

    @property
    def recall(self) -> float:
        return self.true_positives / self.actual if self.actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def pair_metrics(predicted: Iterable[tuple[str, str]], truth: Iterable[tuple[str, str]]) -> Metrics:
    """Pairwise precision, recall and F1 of predicted against true unordered pairs."""
    predicted_set = {(a, b) if a < b else (b, a) for a, b in predicted if a != b}
    truth_set = {(a, b) if a < b else (b, a) for a, b in truth if a != b}
    return Metrics(len(predicted_set & truth_set), len(predicted_set), len(truth_set))
