"""The scoring model: additive log-odds weights per comparison level, stored as canonical JSON.

A pair's match log-odds is ``intercept + sum(weight[feature][level])``; its probability is
the logistic of that. This is the Fellegi-Sunter form (each weight is a log-likelihood ratio),
whatever fitted the weights: logistic regression on labelled pairs (``train``) or EM.

The artifact is the model as JSON with sorted keys, no spaces, UTF-8, weights rounded to six
decimals: the same model always has the same bytes, so the SHA-256 of the bytes identifies it
in the registry and in every decision it scored.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources

import numpy as np

from apps.er.engine.features import FEATURE_SET_VERSION, FEATURES, compare
from apps.er.engine.prepare import Prepared, prepare
from apps.er.engine.schema import KINDS

FORMAT = "intelgraph-er-model/1"
ENGINE_VERSION = f"1.0+features.{FEATURE_SET_VERSION}"
DEFAULT_MODEL_FILE = "default_model.json"


class ModelError(ValueError):
    """An artifact that is not a model this engine can use (bad JSON, unknown format, features or levels)."""


def _round(value: float) -> float:
    rounded = round(float(value), 6)
    return 0.0 if rounded == 0 else rounded  # no "-0.0" in the artifact


@dataclass
class KindModel:
    """Weights for one kind of record (person or organization)."""

    kind: str
    features: list[str]
    levels: list[list[str]]
    weights: list[list[float]]  # weights[f][0] is the "missing" level: always 0
    intercept: float
    threshold: float = 0.5  # match probability at or above which a pair is accepted
    cannot_link: float = 0.001  # match probability below which a pair forbids putting its records in one cluster
    prior: float = 0.05  # share of matches among the training candidate pairs (what the intercept assumes)

    def __post_init__(self):
        self.weights = [[_round(w) for w in row] for row in self.weights]
        self.intercept = _round(self.intercept)

    @cached_property
    def _matrix(self) -> np.ndarray:
        width = max((len(row) for row in self.weights), default=1)
        matrix = np.zeros((len(self.weights), width), dtype=np.float64)
        for f, row in enumerate(self.weights):
            matrix[f, : len(row)] = row
        return matrix

    def logits(self, levels: np.ndarray) -> np.ndarray:
        """Match log-odds of pairs from their comparison levels (shape (pairs, features))."""
        if not len(levels):
            return np.zeros(0, dtype=np.float64)
        columns = np.arange(len(self.features))
        return self.intercept + self._matrix[columns, levels.astype(np.int64)].sum(axis=1)

    def probabilities(self, levels: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(levels), -40, 40)))

    def to_dict(self) -> dict:
        return {
            "features": [
                {"name": name, "levels": levels, "weights": weights}
                for name, levels, weights in zip(self.features, self.levels, self.weights, strict=True)
            ],
            "intercept": self.intercept,
            "threshold": _round(self.threshold),
            "cannot_link": _round(self.cannot_link),
            "prior": _round(self.prior),
        }

    @classmethod
    def from_dict(cls, kind: str, data: Mapping) -> KindModel:
        try:
            features = list(data["features"])
            model = cls(
                kind=kind,
                features=[str(f["name"]) for f in features],
                levels=[[str(level) for level in f["levels"]] for f in features],
                weights=[[float(w) for w in f["weights"]] for f in features],
                intercept=float(data["intercept"]),
                threshold=float(data.get("threshold", 0.5)),
                cannot_link=float(data.get("cannot_link", 0.001)),
                prior=float(data.get("prior", 0.05)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{kind} model is malformed: {exc}") from None
        known = {feature.name: list(feature.levels) for feature in FEATURES[kind]}
        for name, levels, weights in zip(model.features, model.levels, model.weights, strict=True):
            if name not in known:
                raise ModelError(
                    f"{kind} model uses feature {name!r}, which this engine ({ENGINE_VERSION}) does not have"
                )
            if levels != known[name]:
                raise ModelError(f"{kind} model's levels of {name!r} differ from this engine's ({ENGINE_VERSION})")
            if len(weights) != len(levels) or weights[0] != 0:
                raise ModelError(f"{kind} model's weights of {name!r} do not match its levels")
        if not 0 < model.threshold < 1 or not 0 <= model.cannot_link < model.threshold or not 0 < model.prior < 1:
            raise ModelError(f"{kind} model has thresholds out of range")
        if not all(math.isfinite(w) for row in model.weights for w in row) or not math.isfinite(model.intercept):
            raise ModelError(f"{kind} model has non-finite weights")
        return model

    def explain_levels(self, row: np.ndarray) -> list[tuple[str, str, float]]:
        out = [("prior", "intercept", self.intercept)]
        for f, name in enumerate(self.features):
            level = int(row[f])
            out.append((name, self.levels[f][level], self.weights[f][level]))
        return out


@dataclass
class Model:
    """A scoring model for one or more kinds, with metadata (features, training data hash, code version, metrics)."""

    kinds: dict[str, KindModel]
    metadata: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- bytes

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "engine_version": ENGINE_VERSION,
            "kinds": {kind: model.to_dict() for kind, model in sorted(self.kinds.items())},
            "metadata": self.metadata,
        }

    def to_bytes(self) -> bytes:
        """Canonical bytes: sorted keys, compact separators, UTF-8. Same model, same bytes."""
        return json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"not a model artifact (invalid JSON: {exc})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ModelError(f"not a model artifact (format is not {FORMAT})")
        kinds_data = document.get("kinds")
        if not isinstance(kinds_data, dict) or not kinds_data:
            raise ModelError("model artifact has no kinds")
        kinds = {}
        for kind, data_for_kind in kinds_data.items():
            if kind not in KINDS:
                raise ModelError(f"model artifact has an unknown kind {kind!r}")
            kinds[kind] = KindModel.from_dict(kind, data_for_kind)
        metadata = document.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ModelError("model metadata is not an object")
        return cls(kinds=kinds, metadata=metadata)

    # ---------------------------------------------------------------- scoring

    def for_kind(self, kind: str) -> KindModel:
        try:
            return self.kinds[kind]
        except KeyError:
            raise ModelError(f"the model has no weights for {kind} records") from None

    def levels(self, prepared: Prepared, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return compare(prepared, i, j, self.for_kind(prepared.kind).features)

    def score(self, prepared: Prepared, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Match probabilities of the pairs (i, j) of a Prepared set."""
        return self.for_kind(prepared.kind).probabilities(self.levels(prepared, i, j))

    def explain(self, a: Mapping, b: Mapping, kind: str) -> list[tuple[str, str, float]]:
        """The pair's score taken apart: ``("prior", "intercept", w0)`` then ``(feature, level, weight)`` per feature.

        The weights add up to the pair's match log-odds; a reviewer's waterfall chart draws them in order.
        """
        prepared = prepare([("a", a), ("b", b)], kind)
        return self.explain_pairs(prepared, np.array([0]), np.array([1]))[0]

    def explain_pairs(self, prepared: Prepared, i: np.ndarray, j: np.ndarray) -> list[list[tuple[str, str, float]]]:
        """``explain`` for many pairs of one Prepared set at once (the levels are compared in one pass)."""
        kind_model = self.for_kind(prepared.kind)
        return [kind_model.explain_levels(row) for row in self.levels(prepared, i, j)]


def default_model() -> Model:
    """The model shipped with the engine (``apps/er/engine/default_model.json``)."""
    return Model.from_bytes(default_model_bytes())


def default_model_bytes() -> bytes:
    return resources.files("apps.er.engine").joinpath(DEFAULT_MODEL_FILE).read_bytes()


def probability(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))
