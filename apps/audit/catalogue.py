"""Every kind of audit event the product records: what it means and how long it is kept.

``record`` refuses a type that is not listed here (``AUDIT_UNKNOWN_EVENT_TYPES=error``, the default outside
production; production logs it and keeps the event under the default class), so the list is complete by
construction: the coverage report (``manage.py audit_coverage``, the admin's coverage page) and the retention
purge read it, and the SOC 2 work maps its groups to controls.

Retention classes (the sprint plan's tiers): ``standard-365d`` for the record of everyday use, ``long-1825d`` for
what an access review, an investigation or an auditor needs years later (changes of access, configuration,
entity resolution, exports, the audit system itself). A tenant may lengthen a type's class
(``AuditRetentionOverride``), never shorten it; legal holds (``LegalHold``) keep events whatever their class.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD = "standard-365d"
LONG = "long-1825d"
RETENTION_DAYS = {STANDARD: 365, LONG: 1825}
RETENTION_CHOICES = [(STANDARD, "standard (365 days)"), (LONG, "long (1,825 days)")]
DEFAULT_CLASS = STANDARD


@dataclass(frozen=True)
class EventType:
    name: str
    group: str
    retention: str
    description: str


_TYPES = [
    # sign-in
    ("auth.login", "authentication", STANDARD, "a user signed in (admin or Explorer)"),
    ("auth.logout", "authentication", STANDARD, "a user signed out"),
    ("auth.login_failed", "authentication", STANDARD, "a sign-in failed (the username tried; never the password)"),
    # policy decisions
    ("access.denied", "policy decision", STANDARD, "the policy refused an action, a record or a field (bundle hash)"),
    ("access.purpose_allowed", "policy decision", STANDARD, "a purpose-bound action was allowed (purpose, bundle)"),
    ("access.purpose_unlocked", "policy decision", STANDARD, "a declared purpose unlocked purpose-bound fields"),
    ("access.purpose_declared", "policy decision", STANDARD, "a user declared (or cleared) the purpose of their work"),
    ("access.policy_error", "policy decision", LONG, "the policy engine failed on a decision (fails closed)"),
    ("policy.bundle_changed", "configuration", LONG, "a new policy bundle was loaded (its hash and files)"),
    # access administration
    ("tenant.created", "access administration", LONG, "a tenant was created"),
    ("user.created", "access administration", LONG, "a user account was created"),
    ("user.changed", "access administration", LONG, "a user's profile, flags, groups or permissions changed"),
    ("user.password_set", "access administration", LONG, "a user's password was set or changed"),
    ("membership.created", "access administration", LONG, "a user joined a tenant (role, clearance)"),
    ("membership.changed", "access administration", LONG, "a membership's role, clearance or compartments changed"),
    ("membership.deactivated", "access administration", LONG, "a membership was deactivated"),
    ("access.grant_changed", "access administration", LONG, "per-object permissions (grants) of a user changed"),
    ("api_token.issued", "access administration", LONG, "an API token was issued"),
    ("api_token.revoked", "access administration", LONG, "an API token was revoked"),
    (
        "api.deprecation_notified",
        "configuration",
        LONG,
        "a client was e-mailed the deprecation timeline of fields it uses",
    ),
    # the data
    ("entity.created", "data change", STANDARD, "an entity was created (field names, not values)"),
    ("entity.updated", "data change", STANDARD, "an entity was changed (field names, not values)"),
    ("entity.deleted", "data change", STANDARD, "an entity was deleted"),
    ("relationship.created", "data change", STANDARD, "a relationship was created"),
    ("relationship.updated", "data change", STANDARD, "a relationship was changed"),
    ("relationship.deleted", "data change", STANDARD, "a relationship was deleted"),
    ("entities.imported", "data change", LONG, "a bulk import (file, counts, rejects)"),
    ("demo.seeded", "data change", STANDARD, "demo data was loaded"),
    # reading
    ("search.query", "data access", STANDARD, "a search (the SHA-256 of the query text only, never the text)"),
    ("graph.expanded", "data access", STANDARD, "an Explorer neighbourhood was expanded"),
    ("explorer.exported", "export", LONG, "entities were exported from the Explorer"),
    (
        "explorer.summarized",
        "export",
        LONG,
        "a selection was summarized by the LLM (entities and relationships sent, model, purpose; no text)",
    ),
    # entity resolution
    ("er.pair_approved", "entity resolution", LONG, "a reviewer approved a candidate pair (merged)"),
    ("er.pair_rejected", "entity resolution", LONG, "a reviewer rejected a candidate pair"),
    ("er.pair_deferred", "entity resolution", LONG, "a reviewer deferred a candidate pair"),
    ("er.merged", "entity resolution", LONG, "entities were merged into a cluster"),
    ("er.merge_rolled_back", "entity resolution", LONG, "a merge was rolled back by cluster"),
    ("er.model_registered", "entity resolution", LONG, "a scoring model artifact was registered"),
    ("er.model_refused", "entity resolution", LONG, "a model artifact failed its integrity check and was refused"),
    ("er.model_pinned", "entity resolution", LONG, "a tenant's model pin or rollout stage changed"),
    ("er.thresholds_changed", "entity resolution", LONG, "a tenant's merge and review thresholds changed"),
    ("er.rules_fallback", "entity resolution", LONG, "a run fell back to rules because the pinned model failed"),
    ("er.run", "entity resolution", STANDARD, "an entity-resolution run (counts)"),
    ("compliance.evidence_exported", "export", LONG, "an evidence pack was exported (er_evidence)"),
    # the SOC 2 control library and a tenant's statement of applicability
    (
        "compliance.controls_synced",
        "configuration",
        LONG,
        "the control library changed (version, controls added or retired)",
    ),
    (
        "compliance.applicability_changed",
        "configuration",
        LONG,
        "a control was excluded for a tenant (or included again), with why",
    ),
    ("compliance.bundle_exported", "export", LONG, "an evidence bundle (v4) of a quarter was built (SHA-256, gaps)"),
    ("compliance.bundle_downloaded", "export", LONG, "someone downloaded an evidence bundle (its SHA-256)"),
    (
        "compliance.control_attested",
        "configuration",
        LONG,
        "compliance staff attested a control for a period (statement, document)",
    ),
    # access reviews (plan D-3): kept long, an auditor reads them years later
    (
        "access_review.launched",
        "access review",
        LONG,
        "a tenant's quarterly access review was launched (population frozen)",
    ),
    (
        "access_review.decided",
        "access review",
        LONG,
        "a reviewer certified, revoked or modified one access, with a reason",
    ),
    ("access_review.closed", "access review", LONG, "an access review closed with every item decided"),
    ("access_review.exported", "access review", LONG, "an access review's decisions were exported (signed manifest)"),
    ("access_review.reminded", "access review", LONG, "the reviewers of an access review due soon were reminded"),
    (
        "access_review.overdue",
        "access review",
        LONG,
        "an access review passed its due date undecided (alert, escalation)",
    ),
    # data safety (apps.safety): backups, their keeping, restore points and restore drills
    (
        "backup.policy_changed",
        "data safety",
        LONG,
        "the backup policy or a retention tier changed (fields before/after)",
    ),
    ("backup.taken", "data safety", LONG, "a base backup finished and was recorded good (size, files, duration)"),
    ("backup.failed", "data safety", LONG, "a base backup failed or was never marked good (what the engine said)"),
    ("backup.marked_bad", "data safety", LONG, "a backup failed verification (the file that differs)"),
    ("backup.kept", "data safety", LONG, "a backup was pinned or put under legal hold, or released"),
    ("backup.deleted", "data safety", LONG, "retention deleted a backup no tier, pin or hold keeps"),
    ("backup.restore_point", "data safety", LONG, "a restore point was taken (LSN, checksums of every table)"),
    ("backup.graph_snapshot", "data safety", LONG, "the graph store's persistence was copied (outbox position)"),
    ("drill.started", "data safety", LONG, "a restore drill started (target, backup, who)"),
    ("drill.passed", "data safety", LONG, "a restore drill passed (RTO, RPO, signed report)"),
    ("drill.failed", "data safety", LONG, "a restore drill failed or exceeded the policy's RTO (step, why)"),
    # FinOps: rates, budgets and caps, their alerts, refusals at a cap, overage requests
    ("finops.rate_changed", "configuration", LONG, "a rate of the rate card was added or removed (before, after)"),
    ("finops.budget_changed", "configuration", LONG, "a tenant's budget or one of its caps changed (before, after)"),
    ("finops.alert_sent", "finops", LONG, "a budget threshold or forecast alert was sent (spent, cap, threshold)"),
    ("finops.blocked", "finops", LONG, "an action was refused at a budget cap (feature, cap, spent)"),
    ("finops.overage_requested", "finops", LONG, "a raise of a cap was asked for (amount, reason)"),
    ("finops.llm_called", "finops", STANDARD, "an LLM call went through the gateway (model, tokens, cost; no text)"),
    ("finops.overage_decided", "finops", LONG, "a raise of a cap was approved or rejected (amount, expiry)"),
    # the admin: every add, change and delete made there, linked to the change-history record
    ("admin.created", "configuration", LONG, "a record was added in the admin (model, fields, history record)"),
    ("admin.changed", "configuration", LONG, "a record was changed in the admin (model, fields, history record)"),
    ("admin.deleted", "configuration", LONG, "a record was deleted in the admin (model, history record)"),
    # the audit system itself
    ("audit.sealer_started", "audit system", LONG, "the audit sealer started"),
    ("audit.sealer_stopped", "audit system", LONG, "the audit sealer stopped"),
    ("audit.verified", "audit system", LONG, "the audit log verified (positions checked)"),
    ("audit.verify_failed", "audit system", LONG, "audit log verification found a problem (first bad position)"),
    ("audit.proved", "audit system", LONG, "an inclusion proof of an event was produced"),
    ("audit.exported", "export", LONG, "a segment of the audit log was exported"),
    ("audit.purged", "audit system", LONG, "sealed segments past retention were purged (tombstones kept)"),
    ("audit.purge_refused", "audit system", LONG, "a purge was refused (legal hold, retention)"),
    ("audit.hold_placed", "audit system", LONG, "a legal hold was placed (scope, reason, end)"),
    ("audit.hold_lifted", "audit system", LONG, "a legal hold was lifted"),
    ("audit.retention_changed", "audit system", LONG, "a tenant's retention override for an event type changed"),
]

EVENT_TYPES: dict[str, EventType] = {name: EventType(name, group, kept, text) for name, group, kept, text in _TYPES}


def event_type_get(name: str) -> EventType | None:
    return EVENT_TYPES.get(name)


def retention_class(name: str) -> str:
    """The default retention class of an event type (unknown types: the default class)."""
    found = EVENT_TYPES.get(name)
    return found.retention if found else DEFAULT_CLASS


def longer_or_equal(candidate: str, baseline: str) -> bool:
    return RETENTION_DAYS[candidate] >= RETENTION_DAYS[baseline]
