"""Training: logistic regression on the comparison levels of labelled candidate pairs.

The training pairs are exactly the pairs blocking proposes on labelled record sets (same
identity = match), so the model learns to separate what it will actually be shown. Identical
level patterns are counted once with their numbers of matches and non-matches, which turns
hundreds of thousands of pairs into a few thousand weighted rows; Newton's method with an L2
penalty fits them in milliseconds. The penalty pulls the weights of rare levels towards 0
("no evidence") rather than letting a handful of pairs give them extreme values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from apps.er.engine.blocking import candidate_pairs
from apps.er.engine.features import FEATURES, compare
from apps.er.engine.model import ENGINE_VERSION, KindModel, Model
from apps.er.engine.prepare import prepare


@dataclass
class LabelledSet:
    """Records of one kind with the real-world identity of each (same identity = the same person or company)."""

    kind: str
    records: Sequence[tuple[str, Mapping]]
    identities: Mapping[str, str]
    sources: Sequence[int] | None = None
    name: str = ""


@dataclass
class PairData:
    levels: np.ndarray  # (pairs, features) int8
    labels: np.ndarray  # bool


def pair_data(labelled: LabelledSet, features: list[str] | None = None) -> PairData:
    """Comparison levels and match labels of the candidate pairs blocking proposes for a labelled set."""
    prepared = prepare(labelled.records, labelled.kind, labelled.sources)
    i, j = candidate_pairs(prepared)
    identity = np.array(
        [labelled.identities.get(record_id, f"\0{record_id}") for record_id in prepared.ids], dtype=object
    )
    return PairData(compare(prepared, i, j, features), identity[i] == identity[j])


def _design(levels: np.ndarray, spec: list[tuple[str, tuple[str, ...]]]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One-hot columns for every (feature, level >= 1)."""
    columns = [(f, level) for f, (_, names) in enumerate(spec) for level in range(1, len(names))]
    x = np.zeros((len(levels), len(columns)), dtype=np.float64)
    for c, (f, level) in enumerate(columns):
        x[:, c] = levels[:, f] == level
    return x, columns


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def fit_logistic(x: np.ndarray, positives: np.ndarray, negatives: np.ndarray, *, l2: float, iterations: int = 100):
    """Weighted logistic regression by damped Newton steps: (intercept, weights). The intercept is not penalised."""
    n, d = x.shape
    design = np.hstack([np.ones((n, 1)), x])
    total = positives + negatives
    penalty = np.full(d + 1, float(l2))
    penalty[0] = 0.0

    def objective(beta: np.ndarray) -> float:
        z = design @ beta
        # negative penalised log-likelihood; logaddexp keeps it finite for any z
        return float(positives @ np.logaddexp(0, -z) + negatives @ np.logaddexp(0, z) + 0.5 * penalty @ (beta * beta))

    beta = np.zeros(d + 1)
    prior = positives.sum() / max(total.sum(), 1)
    beta[0] = np.log(max(prior, 1e-9) / max(1 - prior, 1e-9))
    current = objective(beta)
    for _ in range(iterations):
        p = _sigmoid(design @ beta)
        gradient = design.T @ (positives - total * p) - penalty * beta
        w = total * p * (1 - p)
        hessian = (design * w[:, None]).T @ design + np.diag(penalty + 1e-6)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-4:
            candidate = beta + scale * step
            value = objective(candidate)
            if value <= current:
                break
            scale /= 2
        else:
            break
        beta, improvement, current = candidate, current - value, value
        if improvement < 1e-9 * max(1.0, abs(current)):
            break
    return float(beta[0]), beta[1:]


def training_data_hash(sets: Iterable[LabelledSet]) -> str:
    """SHA-256 of the labelled records, in a canonical order: the same data always gives the same hash."""
    digest = hashlib.sha256()
    for labelled in sorted(sets, key=lambda s: (s.kind, s.name)):
        rows = sorted(
            (str(record_id), dict(attrs), labelled.identities.get(record_id, ""))
            for record_id, attrs in labelled.records
        )
        payload = {"kind": labelled.kind, "name": labelled.name, "rows": rows, "sources": list(labelled.sources or [])}
        digest.update(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    return digest.hexdigest()


def train(
    sets: Sequence[LabelledSet],
    *,
    l2: float = 2.0,
    threshold: float = 0.5,
    cannot_link: float = 0.001,
    features: Mapping[str, list[str]] | None = None,
    metadata: Mapping | None = None,
) -> Model:
    """Fit one model for every kind present in ``sets``.

    ``features`` limits a kind to some of its features (default: all). The model's metadata
    records the features, the training data hash, the engine version, the regularisation and
    the model's precision, recall and F1 on its own training pairs; ``metadata`` adds to it.
    """
    if not sets:
        raise ValueError("train needs at least one labelled set")
    kinds: dict[str, KindModel] = {}
    metrics: dict[str, dict] = {}
    for kind in sorted({s.kind for s in sets}):
        names = list(features[kind]) if features and kind in features else [f.name for f in FEATURES[kind]]
        by_name = {f.name: f for f in FEATURES[kind]}
        spec = [(name, by_name[name].levels) for name in names]
        data = [pair_data(s, names) for s in sets if s.kind == kind]
        levels = np.concatenate([d.levels for d in data])
        labels = np.concatenate([d.labels for d in data])
        if not labels.any() or labels.all():
            raise ValueError(f"{kind}: training needs both matching and non-matching candidate pairs")
        patterns, inverse = np.unique(levels, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        positives = np.bincount(inverse, weights=labels, minlength=len(patterns))
        negatives = np.bincount(inverse, weights=~labels, minlength=len(patterns))
        x, columns = _design(patterns, spec)
        intercept, beta = fit_logistic(x, positives, negatives, l2=l2)
        weights = [[0.0] * len(level_names) for _, level_names in spec]
        for (f, level), value in zip(columns, beta.tolist(), strict=True):
            weights[f][level] = value
        kind_model = KindModel(
            kind=kind,
            features=names,
            levels=[list(level_names) for _, level_names in spec],
            weights=weights,
            intercept=intercept,
            threshold=threshold,
            cannot_link=cannot_link,
            prior=float(labels.mean()),
        )
        kinds[kind] = kind_model
        predicted = kind_model.probabilities(levels) >= threshold
        tp = int((predicted & labels).sum())
        precision = tp / max(int(predicted.sum()), 1)
        recall = tp / max(int(labels.sum()), 1)
        metrics[kind] = {
            "pairs": len(labels),
            "matches": int(labels.sum()),
            "patterns": len(patterns),
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(2 * precision * recall / (precision + recall) if precision + recall else 0.0, 6),
        }
    info = {
        "method": "logistic regression on comparison levels of blocked candidate pairs (L2, Newton)",
        "l2": l2,
        "engine_version": ENGINE_VERSION,
        "features": {kind: model.features for kind, model in kinds.items()},
        "training_data_hash": training_data_hash(sets),
        "training_sets": sorted(s.name for s in sets),
        "training_metrics": metrics,
    }
    info.update(metadata or {})
    return Model(kinds=kinds, metadata=info)


# ---------------------------------------------------------------------------- unsupervised adaptation


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def adapt_em(
    model: KindModel,
    levels: np.ndarray,
    *,
    iterations: int = 100,
    pseudo_count: float = 1.0,
    tolerance: float = 1e-6,
    anchor: float = 0.0,
) -> tuple[KindModel, dict]:
    """Fellegi-Sunter m/u and match share re-estimated by EM on one batch's candidate pairs (no labels).

    ``levels`` are the batch's comparison levels for ``model.features``. EM starts from the
    model's own probabilities (so it converges to the solution near the trained model, not an
    arbitrary one), treats the features as independent given match status (Fellegi-Sunter), and
    leaves the ``missing`` level at weight 0. ``pseudo_count`` smooths levels the batch never shows.
    ``anchor`` > 0 is a Dirichlet prior at the trained model: the m and u counts the trained model
    assigns the batch (its first E-step) are added to every M-step, ``anchor`` times over, so EM
    can move a level's weight only as far as the batch's evidence outweighs the trained one.
    Returns the adapted model (same features, thresholds re-based to its match share) and a summary.
    """
    if not len(levels):
        return model, {"iterations": 0, "prior": model.prior}
    patterns, inverse, counts = np.unique(levels, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    counts = counts.astype(np.float64)
    responsibility = model.probabilities(patterns)
    prior = model.prior
    weights: list[np.ndarray] = []
    anchored_m = [
        anchor * np.bincount(patterns[:, f], weights=counts * responsibility, minlength=len(names))[1:]
        for f, names in enumerate(model.levels)
    ]
    anchored_u = [
        anchor * np.bincount(patterns[:, f], weights=counts * (1 - responsibility), minlength=len(names))[1:]
        for f, names in enumerate(model.levels)
    ]
    done = 0
    for done in range(1, iterations + 1):  # noqa: B007 - reported below
        matches = counts * responsibility
        non_matches = counts * (1 - responsibility)
        prior = float(np.clip(matches.sum() / counts.sum(), 1e-6, 1 - 1e-6))
        weights = []
        logits = np.full(len(patterns), _logit(prior))
        for f, names in enumerate(model.levels):
            m = np.bincount(patterns[:, f], weights=matches, minlength=len(names))[1:] + pseudo_count + anchored_m[f]
            u = (
                np.bincount(patterns[:, f], weights=non_matches, minlength=len(names))[1:]
                + pseudo_count
                + anchored_u[f]
            )
            w = np.concatenate([[0.0], np.log((m / m.sum()) / (u / u.sum()))])
            weights.append(w)
            logits += w[patterns[:, f]]
        updated = 1 / (1 + np.exp(-np.clip(logits, -40, 40)))
        change = float(np.max(np.abs(updated - responsibility)))
        responsibility = updated
        if change < tolerance:
            break
    # The same strength of evidence vetoes a merge as in the trained model.
    evidence = _logit(model.cannot_link) - _logit(model.prior)
    adapted = KindModel(
        kind=model.kind,
        features=list(model.features),
        levels=[list(names) for names in model.levels],
        weights=[w.tolist() for w in weights],
        intercept=_logit(prior),
        threshold=model.threshold,
        cannot_link=float(1 / (1 + np.exp(-(evidence + _logit(prior))))),
        prior=prior,
    )
    return adapted, {"iterations": done, "prior": prior, "pairs": int(counts.sum()), "patterns": len(patterns)}
