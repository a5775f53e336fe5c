"""The SOC 2 control library: the Trust Services Criteria the plan names, in our own words, with who owns each,
how often it is checked, and where in the product the evidence comes from.

Versioned data: ``LIBRARY_VERSION`` changes whenever a control is added, reworded or given other sources;
``controls_sync`` (run after every ``migrate``, and as ``manage.py controls_sync``) makes the ``Control`` rows
match, keeping each tenant's applicability decisions. The sources are computed by ``apps.compliance.health``;
``attestation`` is the source of the controls the product cannot measure (governance, communication, risk,
vendors): compliance staff attest them in the admin for a period.
"""

from __future__ import annotations

LIBRARY_VERSION = "2026.12-1"

# (code, category, title, what the control means here, owner, frequency, evidence sources)
CONTROLS: tuple[tuple[str, str, str, str, str, str, tuple[str, ...]], ...] = (
    ("CC1.1", "CC1 Control environment", "Integrity and ethical values",
     "The organisation states and keeps a code of conduct that staff with access to customer data accept.",
     "compliance", "annual", ("attestation",)),
    ("CC1.3", "CC1 Control environment", "Structures, reporting lines and responsibilities",
     "Who owns each control is written down; tenant administrators and compliance staff are named per tenant.",
     "compliance", "annual", ("attestation", "access.roles")),
    ("CC2.1", "CC2 Communication and information", "Information to support internal control",
     "The audit log records every security-relevant event the plan names, each with who, tenant and purpose.",
     "compliance", "continuous", ("audit.coverage",)),
    ("CC2.3", "CC2 Communication and information", "Communication with external parties",
     "Integrators learn of API changes ahead: deprecations carry end-of-life dates and the changelog is published.",
     "engineering", "continuous", ("api.contract",)),
    ("CC3.1", "CC3 Risk assessment", "Objectives and risk identification",
     "A yearly risk assessment names the risks to customer data and the controls that answer them.",
     "compliance", "annual", ("attestation",)),
    ("CC4.1", "CC4 Monitoring activities", "Ongoing evaluation of controls",
     "Controls are evaluated continuously from the product's own telemetry (this dashboard) and the audit log is "
     "verified daily.", "compliance", "daily", ("audit.verification",)),
    ("CC5.2", "CC5 Control activities", "Technology general controls",
     "Access to data is decided by one versioned policy bundle, on every path (API, admin, Explorer).",
     "engineering", "continuous", ("access.policy",)),
    ("CC6.1", "CC6 Logical and physical access", "Logical access security",
     "Access to each tenant's data is limited by role, clearance, compartments and purpose, enforced by the policy "
     "bundle; API access needs a token.", "security", "continuous", ("access.policy", "access.tokens")),
    ("CC6.2", "CC6 Logical and physical access", "Registration and authorisation of users",
     "Every tenant's access is reviewed each quarter; the review closes on time with every item decided.",
     "compliance", "quarterly", ("access.reviews",)),
    ("CC6.3", "CC6 Logical and physical access", "Role-based access, changed and removed",
     "Access no longer needed is revoked in the quarterly review; every change of role, clearance or grant is "
     "audited.", "compliance", "quarterly", ("access.reviews", "audit.coverage")),
    ("CC6.6", "CC6 Logical and physical access", "Access from outside the system boundary",
     "Integrators reach the API only with tokens; tokens unused for 90 days are found and revoked.",
     "security", "continuous", ("access.tokens",)),
    ("CC6.7", "CC6 Logical and physical access", "Restricting data in transit and export",
     "Exports are audited and signed; redaction applies to everything shown and exported.",
     "security", "continuous", ("audit.coverage", "access.policy")),
    ("CC6.8", "CC6 Logical and physical access", "Preventing unauthorised or malicious software",
     "Only persisted GraphQL operations run in production; every one is verified against the live schema.",
     "engineering", "continuous", ("api.contract",)),
    ("CC7.1", "CC7 System operations", "Detecting changes to configuration",
     "Configuration edits in the admin are audited with their history record.",
     "engineering", "continuous", ("audit.coverage",)),
    ("CC7.2", "CC7 System operations", "Monitoring for anomalies",
     "The tamper-evident audit log verifies daily and events are sealed within the lag target.",
     "security", "daily", ("audit.verification", "audit.sealing")),
    ("CC7.3", "CC7 System operations", "Evaluating security events",
     "A failed verification, a forged or deleted audit event, or a sealing backlog raises an alert.",
     "security", "continuous", ("audit.verification", "audit.sealing")),
    ("CC7.4", "CC7 System operations", "Responding to incidents",
     "Legal holds keep the events of an incident beyond retention; the response runbook is kept current.",
     "security", "annual", ("attestation", "audit.retention")),
    ("CC7.5", "CC7 System operations", "Recovering from incidents",
     "Data can be restored from encrypted backups to a point in time; restores are drilled.",
     "sre", "quarterly", ("backup.drills",)),
    ("CC8.1", "CC8 Change management", "Authorising, testing and approving changes",
     "Every change to the API passes the breaking-change and safelist checks; ER models are registered with "
     "their SHA-256 and pinned per tenant.", "engineering", "continuous", ("api.contract", "er.models")),
    ("CC9.1", "CC9 Risk mitigation", "Business disruption",
     "Cost and capacity are capped per tenant so one tenant cannot exhaust the service.",
     "sre", "continuous", ("finops.caps",)),
    ("CC9.2", "CC9 Risk mitigation", "Vendors and business partners",
     "Sub-processors (hosting, e-mail, LLM providers) are assessed yearly.",
     "compliance", "annual", ("attestation",)),
    ("A1.1", "A1 Availability", "Capacity management",
     "Capacity follows demand by autoscaling policy; saturation sheds load with a clear error.",
     "sre", "continuous", ("scaling.policy",)),
    ("A1.2", "A1 Availability", "Backup and recovery infrastructure",
     "Backups follow a policy (schedule, encryption, retention) and complete on time.",
     "sre", "daily", ("backup.policy",)),
    ("A1.3", "A1 Availability", "Recovery testing",
     "Restores are drilled within the policy's window and meet the recovery time objective.",
     "sre", "quarterly", ("backup.drills",)),
    ("C1.1", "C1 Confidentiality", "Identifying and protecting confidential information",
     "Records carry a sensitivity; fields and edges are redacted by policy for those not cleared.",
     "security", "continuous", ("access.policy",)),
    ("C1.2", "C1 Confidentiality", "Disposing of confidential information",
     "Audit events are kept for their retention class and then purged in sealed segments, legal holds excepted.",
     "compliance", "daily", ("audit.retention",)),
)  # fmt: skip
