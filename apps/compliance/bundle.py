"""Evidence bundle v4 (the plan's list): one signed zip for a quarter, of one tenant or the whole installation.

Contents, each file with the period it proves in the signed manifest (``manifests``):

- ``controls/status.json``: every control's status now, with each evidence source's finding and period;
- ``controls/applicability.json``: the statement of applicability (exclusions and why);
- ``er/model-registry.json``: the model registry manifest (every artifact's SHA-256, size, who registered it,
  the pins in force);
- ``er/decisions.proofs.jsonl``: the period's ER decisions (approve, reject, defer, merge, rollback, pin) as audit
  events, each with its inclusion proof;
- ``api/compatibility.json``: the deployed schema against the newest release, the safelist check, and the
  deprecated fields integrators used in the period;
- ``access-reviews/<export>.zip``: the quarter's closed access review exports (signed themselves);
- ``audit/checkpoint.json``: the signed checkpoint every proof leads to.

What the product cannot provide yet is listed in the manifest's ``gaps`` with the issue that builds it
(search performance reports, backups and restore timings, autoscaling policy and events), never a file that
looks like evidence.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.compliance import health, manifests
from apps.compliance.choices import AccessReviewStatus
from apps.compliance.errors import ComplianceError
from apps.compliance.models import AccessReview, ControlApplicability
from apps.core.models import Membership, Tenant
from apps.er.models import ModelArtifact, ModelPin
from apps.versioning.models import DeprecatedFieldUsage

BUNDLE_KIND = "evidence-bundle-v4"
ER_EVENTS = (
    "er.pair_approved", "er.pair_rejected", "er.pair_deferred", "er.merged", "er.merge_rolled_back",
    "er.model_registered", "er.model_refused", "er.model_pinned",
)  # fmt: skip
NOT_BUILT = (
    ("search performance reports", "no persisted search latency history yet: issue 22 (observability and SLO reports)"),
    ("autoscaling policy and events", "the Helm chart and its autoscaling policies are not built yet: issue 18"),
)


def safety_evidence(*, tenant: Tenant | None, start, end) -> dict:
    """Backups and drills of the period. Every tenant's bundle gets the timings; the signed reports (which name
    every tenant's row counts) only the installation's, a tenant's gets its own rows of each report."""
    from apps.safety import drills as safety_drills
    from apps.safety.models import Backup, RestoreDrill

    backups = Backup.objects.filter(started_at__gte=start, started_at__lt=end).order_by("started_at")
    drills = RestoreDrill.objects.filter(created_at__gte=start, created_at__lt=end).order_by("created_at")
    rows = []
    for drill in drills:
        row = {
            "drill": drill.pk, "status": drill.status, "trigger": drill.trigger,
            "started_at": manifests.iso(drill.started_at) if drill.started_at else None,
            "finished_at": manifests.iso(drill.finished_at) if drill.finished_at else None,
            "rto_seconds": drill.rto_seconds, "rpo_seconds": drill.rpo_seconds, "error": drill.error,
            "steps": [{k: step.get(k) for k in ("name", "status", "seconds")} for step in drill.steps],
            "signature_verifies": safety_drills.report_problem(drill) is None if drill.report else None,
        }  # fmt: skip
        if tenant is None:
            row["report"], row["signature"] = drill.report, drill.signature
        elif drill.report:
            logical = (drill.report.get("logical") or {}).get("tenants") or {}
            row["tenant_rows_restored"] = logical.get(str(tenant.pk))
            row["tenant_checksums_equal"] = (drill.report.get("logical") or {}).get("restored_equal")
        rows.append(row)
    return {
        "backups": [
            {
                "backup_id": b.backup_id,
                "kind": b.kind,
                "status": b.status,
                "started_at": manifests.iso(b.started_at),
                "finished_at": manifests.iso(b.finished_at) if b.finished_at else None,
                "duration_seconds": b.duration_seconds,
                "size_bytes": b.size_bytes,
                "encryption": b.encryption,
            }
            for b in backups
        ],
        "drills": rows,
    }


def _json(document) -> bytes:
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode()


def period_problem(*, tenant: Tenant | None, period: str) -> None:
    """ComplianceError for a quarter a bundle cannot be made of: malformed, not begun, or empty (no audit event of
    the tenant, or of any tenant, in it: the product was not in use then, and a bundle would prove nothing)."""
    from apps.compliance.services import quarter_bounds

    start, end = quarter_bounds(period)
    if start > timezone.now():
        raise ComplianceError(f"{period} has not started: there is no evidence of it yet")
    events = AuditEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    if tenant is not None:
        events = events.filter(tenant=tenant)
    if not events.exists():
        whose = f"of {tenant}" if tenant is not None else "at all"
        raise ComplianceError(f"{period} holds no audit event {whose}: there is nothing to prove for it")


def bundle_build(*, tenant: Tenant | None, period: str, progress: Callable[[int, str], None] | None = None) -> bytes:
    """The bundle's zip (see the module docstring); ``progress(percent, step)`` is told as it goes."""
    from apps.compliance.services import access_review_export_data, quarter_bounds

    start, end = quarter_bounds(period)
    period_problem(tenant=tenant, period=period)
    say = progress or (lambda percent, step: None)
    files, gaps, proved = [], [], []
    scope = {"tenant": tenant.slug if tenant else None, "period": period}

    say(5, "control statuses")
    rows = health.control_health(tenant=tenant)
    status = [
        {
            "control": row.control.code,
            "title": row.control.title,
            "owner": row.control.owner,
            "status": row.status,
            "reason": row.reason,
            "evidence": [
                {
                    "source": e.source,
                    "status": e.status,
                    "finding": e.reason,
                    "effective_from": manifests.iso(e.effective_from),
                    "effective_until": manifests.iso(e.effective_until),
                    "collected_at": manifests.iso(e.collected_at),
                }
                for e in row.evidence
            ],
        }
        for row in rows
    ]
    files.append(
        manifests.EvidenceFile(
            "controls/status.json",
            _json({**scope, "library": rows[0].control.library_version if rows else None, "controls": status}),
            "every control's status at export, each evidence source's finding and the period it proves",
            start,
            end,
        )
    )
    for row in rows:
        if row.status == "red":
            gaps.append({"what": f"control {row.control.code}", "why": row.reason})
    applicability = ControlApplicability.objects.select_related("control", "tenant", "decided_by")
    if tenant is not None:
        applicability = applicability.filter(tenant=tenant)
    files.append(
        manifests.EvidenceFile(
            "controls/applicability.json",
            _json(
                [
                    {
                        "tenant": a.tenant.slug,
                        "control": a.control.code,
                        "applicable": a.applicable,
                        "reason": a.reason,
                        "decided_by": a.decided_by.get_username() if a.decided_by else None,
                        "updated_at": manifests.iso(a.updated_at),
                    }
                    for a in applicability
                ]
            ),
            "the statement of applicability: controls excluded and why",
        )
    )

    say(20, "model registry")
    pins = ModelPin.objects.select_related("tenant", "artifact").order_by("-created_at")
    if tenant is not None:
        pins = pins.filter(tenant=tenant)
    registry = {
        "artifacts": [
            {
                "sha256": a.sha256,
                "model_id": a.model_id,
                "size": a.size,
                "registered_at": manifests.iso(a.created_at),
                "author": a.author.get_username() if a.author else None,
            }
            for a in ModelArtifact.objects.select_related("author").order_by("created_at")
        ],
        "pins": [
            {
                "tenant": p.tenant.slug if p.tenant else None,
                "artifact": p.artifact.sha256,
                "mode": p.mode,
                "stage": p.stage,
                "at": manifests.iso(p.created_at),
            }
            for p in pins[:500]
        ],
    }
    files.append(
        manifests.EvidenceFile(
            "er/model-registry.json",
            _json(registry),
            "the ER model registry: artifacts by SHA-256 and pins",
            start,
            end,
        )
    )

    say(35, "ER decisions")
    er_events = AuditEvent.objects.filter(event_type__in=ER_EVENTS, created_at__gte=start, created_at__lt=end)
    if tenant is not None:
        er_events = er_events.filter(tenant=tenant)
    er_events = list(er_events.order_by("seq"))
    er_file, checkpoint, er_gaps = manifests.audit_proofs_file(
        "er/decisions.proofs.jsonl",
        er_events,
        description="the period's ER approvals, rejections, deferrals, merges, rollbacks and pins, each proved",
    )
    er_file.effective_from, er_file.effective_until = start, end
    files.append(er_file)
    gaps += er_gaps
    proved += er_events

    say(55, "API compatibility")
    contract = health.api_contract(tenant, timezone.now())
    usages = DeprecatedFieldUsage.objects.filter(day__gte=start.date(), day__lt=end.date()).order_by("day", "field")
    if tenant is None:
        usage = [
            {
                "day": manifests.iso(u.day),
                "field": u.field,
                "client": u.client,
                "operation": u.operation,
                "count": u.count,
            }
            for u in usages[:1000]
        ]
    else:
        # A usage row has no tenant (a token reaches every tenant of its owner): a tenant's bundle says which
        # deprecated fields its active members still used, never who, how often, or through which client.
        members = Membership.objects.filter(tenant=tenant, is_active=True).values("user_id")
        usage = [
            {"field": field}
            for field in usages.filter(user__in=members).values_list("field", flat=True).distinct().order_by("field")
        ]
    files.append(
        manifests.EvidenceFile(
            "api/compatibility.json",
            _json(
                {
                    "contract": {"status": contract.status, "finding": contract.reason},
                    "deprecated_field_usage": usage,
                }
            ),
            "the deployed API against its newest release and the safelist, and deprecated fields still in use",
            start,
            end,
        )
    )

    say(70, "access reviews")
    reviews = AccessReview.objects.filter(period=period).select_related("tenant")
    if tenant is not None:
        reviews = reviews.filter(tenant=tenant)
    tenants = [tenant] if tenant is not None else list(Tenant.objects.filter(is_active=True))
    for one in tenants:
        review = next((r for r in reviews if r.tenant_id == one.pk), None)
        if review is None:
            gaps.append({"what": f"access review {one.slug} {period}", "why": "not launched"})
        elif review.status != AccessReviewStatus.CLOSED:
            gaps.append({"what": f"access review {one.slug} {period}", "why": "not closed yet"})
        else:
            data, name = access_review_export_data(review)
            files.append(
                manifests.EvidenceFile(
                    f"access-reviews/{name}",
                    data,
                    f"the closed {period} access review of {one.slug} (signed; check it with evidence_verify too)",
                    start,
                    end,
                )
            )

    say(80, "backups and restore drills")
    files.append(
        manifests.EvidenceFile(
            "safety/backups-and-drills.json",
            _json(safety_evidence(tenant=tenant, start=start, end=end)),
            "the period's backups and restore drills: timings, RTO and RPO, each drill's report and its signature",
            start,
            end,
        )
    )

    say(85, "checkpoint and gaps")
    if checkpoint is None:  # no event to prove: the log's state at export is evidence all the same
        latest = AuditCheckpoint.objects.order_by("-size").first()
        checkpoint = audit.checkpoint_signed(latest) if latest is not None else None
    for what, why in NOT_BUILT:
        gaps.append({"what": what, "why": why})
    if checkpoint is not None:
        files.append(
            manifests.EvidenceFile(
                "audit/checkpoint.json", _json(checkpoint), "the signed audit checkpoint every proof leads to"
            )
        )
    metadata = {
        **scope,
        "from": manifests.iso(start),
        "until": manifests.iso(end),
        "controls": {s: sum(1 for r in rows if r.status == s) for s in ("green", "amber", "red", "excluded")},
        "events_proved": len(proved) - len(er_gaps),
    }
    data = manifests.evidence_zip(kind=BUNDLE_KIND, metadata=metadata, files=files, gaps=gaps, checkpoint=checkpoint)
    say(100, "done")
    return data
