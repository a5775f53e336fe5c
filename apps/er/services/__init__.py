"""Entity resolution writes, one module per concern, all re-exported here (``from apps.er import services as
er`` then ``er.pair_approve(...)``):

- ``registry``: model artifacts (``model_register``);
- ``pins``: pins and rollout (``pin_set``, ``pin_revert``, ``pin_refused``);
- ``thresholds``: a tenant's ER settings (``thresholds_set``);
- ``decisions``: reviewers' approve, reject, defer and claim, with their checks;
- ``merges``: materialising a merge with survivorship and its snapshot (``merge_materialize``);
- ``rollback``: undoing a merge or a model version's merges (``merge_rollback``, ``rollback_model``).

Every change is audited through apps.compliance (signed, hash-chained) and reaches the graph projection through
the outbox. Merges and rollbacks each run in one transaction: a rollback restores the exact prior state of every
row a merge touched, or nothing at all.

The reads live in ``apps.er.selectors``; the ones callers have always found here (``settings_for``,
``pin_current``, ``model_load``, ``rollback_plan``, ``states_redacted`` ...) are re-exported too, with the errors.
"""

from apps.er.selectors import (
    EDGE_STATE,
    ENTITY_STATE,
    EVIDENCE_EVENTS,
    PIN_RECORD_TYPE,
    ERError,
    ModelIntegrityError,
    RollbackPlan,
    _incompatible,
    _loaded,
    decision_events,
    entity_records,
    model_bytes,
    model_load,
    never_merge_pairs,
    pin_allowed,
    pin_current,
    plan_states,
    rollback_changes,
    rollback_plan,
    rollout_of,
    root_of,
    settings_for,
    shadow_record,
    state_checksum,
    states_redacted,
    what_if,
    what_if_model,
)
from apps.er.services.decisions import pair_approve, pair_claim, pair_defer, pair_reject
from apps.er.services.merges import MergePlan, merge_materialize
from apps.er.services.metrics import ER_DECISIONS, ER_MERGES, ER_ROLLBACKS
from apps.er.services.pins import pin_refused, pin_revert, pin_set
from apps.er.services.registry import MODEL_STORAGE_DIR, model_register
from apps.er.services.rollback import merge_rollback, rollback_model
from apps.er.services.thresholds import thresholds_set

__all__ = [
    "EDGE_STATE",
    "ENTITY_STATE",
    "ER_DECISIONS",
    "ER_MERGES",
    "ER_ROLLBACKS",
    "EVIDENCE_EVENTS",
    "MODEL_STORAGE_DIR",
    "PIN_RECORD_TYPE",
    "ERError",
    "MergePlan",
    "ModelIntegrityError",
    "RollbackPlan",
    "_incompatible",
    "_loaded",
    "decision_events",
    "entity_records",
    "merge_materialize",
    "merge_rollback",
    "model_bytes",
    "model_load",
    "model_register",
    "never_merge_pairs",
    "pair_approve",
    "pair_claim",
    "pair_defer",
    "pair_reject",
    "pin_allowed",
    "pin_current",
    "pin_refused",
    "pin_revert",
    "pin_set",
    "plan_states",
    "rollback_changes",
    "rollback_model",
    "rollback_plan",
    "rollout_of",
    "root_of",
    "settings_for",
    "shadow_record",
    "state_checksum",
    "states_redacted",
    "thresholds_set",
    "what_if",
    "what_if_model",
]
