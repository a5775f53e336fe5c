"""IntelGraph's entity-resolution engine: pure Python and numpy, no Django.

It works the same on CSV rows and on entity rows from the database: records are
``(record id, attributes)`` pairs with the product's canonical attribute names
(``given_name``, ``family_name``, ``birth_date``, ``legal_name``, ``registration_number``, …).

* ``prepare`` normalises records into columns; ``candidate_pairs`` blocks them;
* ``Model.score`` turns a pair's comparison levels into a match probability;
  ``Model.explain`` takes one score apart; ``rules_match`` is the fallback without a model;
* ``cluster`` groups accepted pairs without chaining through weak links;
* ``resolve`` runs it all; ``plan_blocks`` / ``score_pairs`` / ``cluster_scored`` are the same
  run cut into independent blocks (one Celery task each);
* ``train`` fits a model on labelled record sets. See docs/er.md and ADR 0006.
"""

from apps.er.engine.blocking import block_keys, candidate_pairs
from apps.er.engine.cluster import Clustering, cluster, cluster_pairs
from apps.er.engine.features import FEATURES, compare, feature_spec
from apps.er.engine.model import ENGINE_VERSION, KindModel, Model, ModelError, default_model, default_model_bytes
from apps.er.engine.pipeline import (
    Metrics,
    Resolution,
    cluster_scored,
    pair_metrics,
    plan_blocks,
    resolve,
    score_pairs,
)
from apps.er.engine.prepare import Prepared, prepare
from apps.er.engine.rules import rules_match
from apps.er.engine.schema import KINDS, ORGANIZATION, PERSON
from apps.er.engine.training import LabelledSet, train


def explain(a, b, *, kind: str, model: Model | None = None) -> list[tuple[str, str, float]]:
    """``(feature, level, weight)`` for a pair of attribute dicts, led by ``("prior", "intercept", w0)``."""
    return (model or default_model()).explain(a, b, kind)


__all__ = [
    "ENGINE_VERSION",
    "FEATURES",
    "KINDS",
    "ORGANIZATION",
    "PERSON",
    "Clustering",
    "KindModel",
    "LabelledSet",
    "Metrics",
    "Model",
    "ModelError",
    "Prepared",
    "Resolution",
    "block_keys",
    "candidate_pairs",
    "cluster",
    "cluster_pairs",
    "cluster_scored",
    "compare",
    "default_model",
    "default_model_bytes",
    "explain",
    "feature_spec",
    "pair_metrics",
    "plan_blocks",
    "prepare",
    "resolve",
    "rules_match",
    "score_pairs",
    "train",
]
