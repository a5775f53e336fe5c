"""Live control health: each evidence source of the control library computed from the product's own telemetry.

A source answers with ``Evidence``: green, amber or red, the reason in a sentence, the period the evidence
proves (its *effective* period, distinct from when it was collected), and where to look. A control's status is
its worst source. A source that fails to compute turns red with the error, never the page. Sources whose
product part is not built yet (autoscaling, budget caps) say so in red: no placeholder
that looks like evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from apps.access import bundle as policy
from apps.access.models import PolicyBundleVersion
from apps.audit import catalogue
from apps.audit import selectors as audit_selectors
from apps.audit.models import AuditEvent
from apps.compliance.choices import AccessDecision, AccessReviewStatus
from apps.compliance.models import AccessReview, Control, ControlApplicability, ControlAttestation
from apps.core.models import ApiToken, Membership, Tenant
from apps.er.models import ModelArtifact, ModelPin

logger = logging.getLogger(__name__)

GREEN, AMBER, RED, EXCLUDED = "green", "amber", "red", "excluded"
RANK = {GREEN: 0, AMBER: 1, RED: 2}
VERIFY_WITHIN = timedelta(hours=26)  # the daily verification, with slack for a late beat
TOKEN_UNUSED = timedelta(days=90)


@dataclass
class Evidence:
    source: str
    status: str
    reason: str
    effective_from: datetime | date | None = None
    effective_until: datetime | date | None = None
    collected_at: datetime | None = None
    link: str = ""


@dataclass
class ControlHealth:
    control: Control
    status: str
    reason: str
    evidence: list[Evidence]
    excluded_reason: str = ""


def _last(event_types: list[str]):
    return (
        AuditEvent.objects.filter(event_type__in=event_types)
        .order_by("-seq")
        .only("event_type", "created_at", "payload")
        .first()
    )


# --------------------------------------------------------------------------- the sources


def audit_verification(tenant, now) -> Evidence:
    last = _last(["audit.verified", "audit.verify_failed"])
    link = "/admin/audit/auditevent/?event_type__exact=audit.verified"
    if last is None:
        return Evidence("audit.verification", RED, "the audit log has never been verified (audit_verify)", link=link)
    age = now - last.created_at
    if last.event_type == "audit.verify_failed":
        # the log is every tenant's: a tenant's view says that it failed, superusers' (the installation) where
        problem = last.payload.get("problem", "a problem") if tenant is None else "see the audit admin (superusers)"
        return Evidence(
            "audit.verification",
            RED,
            f"the last verification failed: {problem}",
            collected_at=last.created_at,
            link=link,
        )
    hours = f"{age.total_seconds() / 3600:.1f} h ago"
    checked = (
        f"{last.payload.get('size', 0):,} sealed positions verified {hours}" if tenant is None else f"verified {hours}"
    )
    if age > VERIFY_WITHIN:
        return Evidence("audit.verification", AMBER, f"not verified in the last day: {checked}", link=link)
    return Evidence(
        "audit.verification", GREEN, checked, effective_until=last.created_at, collected_at=last.created_at, link=link
    )


def audit_sealing(tenant, now) -> Evidence:
    window = audit_selectors.unsealed_window()
    limit = settings.AUDIT_UNSEALED_ALERT_SECONDS
    status = GREEN if window["oldest_seconds"] <= limit else RED
    if tenant is not None:  # how much the whole log holds tells other tenants' activity
        late = "within" if status == GREEN else "later than"
        return Evidence("audit.sealing", status, f"events are sealed {late} {limit} s", collected_at=now)
    reason = (
        f"{window['unsealed']} event(s) unsealed, the oldest for {window['oldest_seconds']:.0f} s (alert after {limit} s); "
        f"{window['sealer']}"
    )
    return Evidence("audit.sealing", status, reason, collected_at=now, link="/admin/audit/auditevent/")


def audit_coverage(tenant, now) -> Evidence:
    since = now - timedelta(days=30)
    events = AuditEvent.objects.filter(created_at__gte=since)
    if tenant is not None:  # sign-ins and the audit system's own events belong to no tenant
        events = events.filter(Q(tenant=tenant) | Q(tenant__isnull=True))
    groups = {kind.group for kind in catalogue.EVENT_TYPES.values()}
    recorded = set(events.values_list("event_type", flat=True).distinct()[:1000])
    seen = {catalogue.EVENT_TYPES[name].group for name in recorded if name in catalogue.EVENT_TYPES}
    reason = (
        f"{len(catalogue.EVENT_TYPES)} event types catalogued, each with a retention class; "
        f"{len(recorded)} type(s) recorded in the last 30 days"
    )
    if not recorded:
        return Evidence(
            "audit.coverage", AMBER, reason + ": nothing recorded", since, now, now, "/admin/audit/auditevent/coverage/"
        )
    missing = sorted(groups - seen - {"audit system", "export", "configuration", "access review"})
    return Evidence(
        "audit.coverage",
        GREEN,
        reason + (f" (no {', '.join(missing)} event in the period)" if missing else ""),
        since,
        now,
        now,
        "/admin/audit/auditevent/coverage/",
    )


def audit_retention(tenant, now) -> Evidence:
    last = _last(["audit.purged"])
    link = "/admin/audit/audittombstone/"
    if last is None:
        return Evidence("audit.retention", AMBER, "the retention purge has not run yet (daily from beat)", link=link)
    age = now - last.created_at
    dry = " (dry run)" if last.payload.get("dry_run") else ""
    status = GREEN if age <= timedelta(days=2) else AMBER
    return Evidence(
        "audit.retention", status, f"purge ran {age.days} day(s) ago{dry}", collected_at=last.created_at, link=link
    )


def access_reviews(tenant, now) -> Evidence:
    from apps.compliance.services import quarter_of

    link = "/admin/compliance/accessreview/"
    tenants = [tenant] if tenant is not None else list(Tenant.objects.filter(is_active=True))
    problems, fine = [], []
    for one in tenants:
        reviews = AccessReview.objects.filter(tenant=one).order_by("-launched_at")
        current = quarter_of(now)
        latest = reviews.first()
        if latest is None:
            problems.append((RED, f"{one}: no access review yet"))
            continue
        pending = latest.items.filter(decision=AccessDecision.PENDING).count()
        if latest.status == AccessReviewStatus.OPEN and latest.due_at < now:
            problems.append((RED, f"{one}: the {latest.period} review is overdue ({pending} item(s) undecided)"))
        elif latest.status == AccessReviewStatus.CLOSED and latest.closed_at > latest.due_at:
            problems.append((AMBER, f"{one}: the {latest.period} review closed late"))
        elif latest.period != current and latest.status == AccessReviewStatus.CLOSED:
            problems.append((AMBER, f"{one}: no review launched for {current} yet"))
        elif latest.status == AccessReviewStatus.OPEN:
            fine.append(f"{one}: {latest.period} open, due {latest.due_at:%Y-%m-%d}")
        else:
            fine.append(f"{one}: {latest.period} closed on time")
    if problems:
        status = max((s for s, _ in problems), key=RANK.get)
        return Evidence("access.reviews", status, "; ".join(text for _, text in problems), collected_at=now, link=link)
    return Evidence("access.reviews", GREEN, "; ".join(fine) or "no tenant", collected_at=now, link=link)


def access_policy(tenant, now) -> Evidence:
    current = policy.current_bundle()
    recorded = PolicyBundleVersion.objects.filter(sha256=current.sha256).first()
    link = "/admin/access/policybundleversion/"
    if recorded is None:  # recorded (and audited) with the first decision it makes
        return Evidence(
            "access.policy",
            AMBER,
            f"policy bundle {current.sha256[:12]}… in force, not recorded yet: no decision has been made with it",
            collected_at=now,
            link=link,
        )
    return Evidence(
        "access.policy",
        GREEN,
        f"policy bundle {current.sha256[:12]}… in force since {recorded.first_loaded_at:%Y-%m-%d}, decides every path",
        effective_from=recorded.first_loaded_at,
        collected_at=now,
        link=link,
    )


def access_tokens(tenant, now) -> Evidence:
    tokens = ApiToken.objects.filter(revoked_at__isnull=True).exclude(expires_at__lt=now)
    if tenant is not None:
        tokens = tokens.filter(user__memberships__tenant=tenant, user__memberships__is_active=True).distinct()
    stale = [
        t for t in tokens.only("created_at", "last_used_at") if (t.last_used_at or t.created_at) < now - TOKEN_UNUSED
    ]
    link = "/admin/core/apitoken/"
    if stale:
        return Evidence(
            "access.tokens", AMBER, f"{len(stale)} active token(s) unused for 90 days", collected_at=now, link=link
        )
    return Evidence(
        "access.tokens",
        GREEN,
        f"{tokens.count()} active token(s), none unused for 90 days",
        collected_at=now,
        link=link,
    )


def access_roles(tenant, now) -> Evidence:
    from apps.access import ranks

    tenants = [tenant] if tenant is not None else list(Tenant.objects.filter(is_active=True))
    without = []
    for one in tenants:
        roles = Membership.objects.filter(tenant=one, is_active=True).values_list("role", flat=True)
        if not any(ranks.role_at_least(role=role, least="compliance") for role in roles):
            without.append(str(one))
    if without:
        return Evidence(
            "access.roles", RED, f"no compliance member or administrator in {', '.join(without)}", collected_at=now
        )
    return Evidence(
        "access.roles", GREEN, "every tenant has named compliance staff or administrators", collected_at=now
    )


def api_contract(tenant, now) -> Evidence:
    """The deployed schema against the newest release, and every persisted operation (cached 10 minutes)."""
    result = cache.get("ig:compliance:api-contract")
    if result is None:
        from graphene_django.settings import graphene_settings

        from apps.versioning.contracts import contract_check, safelist_problems

        live = graphene_settings.SCHEMA.graphql_schema
        report = contract_check(live=live, against=None, second_opinion=False)
        problems = safelist_problems(live=live, path=None)
        result = {
            "breaking": list(report.schema.breaking) + list(report.json_schemas),
            "safelist": problems,
            "baseline": report.baseline.label,
            "at": now.isoformat(),
        }
        cache.set("ig:compliance:api-contract", result, 600)
    if result["breaking"] or result["safelist"]:
        first = (result["breaking"] + result["safelist"])[0]
        return Evidence("api.contract", RED, f"the deployed API fails its checks: {first}", collected_at=now)
    return Evidence(
        "api.contract",
        GREEN,
        f"no breaking change against {result['baseline']}; every persisted operation verifies",
        collected_at=datetime.fromisoformat(result["at"]),
        link="/graphql/persisted-queries.json",
    )


def er_models(tenant, now) -> Evidence:
    pins = ModelPin.objects.all() if tenant is None else ModelPin.objects.filter(tenant=tenant)
    artifacts = ModelArtifact.objects.filter(pk__in=pins.values("artifact_id"))
    if not artifacts.exists():
        return Evidence("er.models", GREEN, "no ER model pinned: the deterministic rules decide", collected_at=now)
    return Evidence(
        "er.models",
        GREEN,
        f"{artifacts.count()} pinned model artifact(s), each registered with its SHA-256",
        collected_at=now,
        link="/admin/er/modelartifact/",
    )


def attestation(tenant, now, control: Control | None = None) -> Evidence:
    today = now.date()
    attestations = ControlAttestation.objects.filter(control=control, effective_until__gte=today)
    attestations = attestations.filter(tenant__isnull=True) | attestations.filter(tenant=tenant)
    current = attestations.filter(effective_from__lte=today).order_by("-effective_until").first()
    link = "/admin/compliance/controlattestation/"
    if current is None:
        return Evidence("attestation", RED, "no current attestation by compliance staff", link=link)
    return Evidence(
        "attestation",
        GREEN,
        f"attested by {current.attested_by}: {current.statement}",
        current.effective_from,
        current.effective_until,
        current.attested_at,
        link,
    )


def backup_policy(tenant, now) -> Evidence:
    """Backups (installation-wide): a good backup within the policy's age, WAL archiving working, the key usable."""
    from apps.safety import engine, services
    from apps.safety.choices import BackupStatus
    from apps.safety.models import Backup

    link = "/admin/safety/backup/"
    good = Backup.objects.filter(status=BackupStatus.GOOD)
    oldest, newest = good.order_by("started_at").first(), good.order_by("-started_at").first()
    if newest is None:
        return Evidence("backup.policy", RED, "no good backup", collected_at=now, link=link)
    try:
        key = engine.key_id()
    except Exception as exc:
        return Evidence("backup.policy", RED, f"the backup key is not usable: {exc}", collected_at=now, link=link)
    problems = services.freshness_problems(now=now)
    reason = f"{good.count()} good backup(s), newest {newest.backup_id} ({newest.kind}), encrypted to key {key[-16:]}"
    if problems:
        return Evidence(
            "backup.policy", AMBER, f"{reason}; but {'; '.join(problems)}", oldest.started_at, now, now, link
        )
    return Evidence(
        "backup.policy",
        GREEN,
        f"{reason}; WAL archiving current",
        oldest.consistent_at or oldest.started_at,
        now,
        now,
        link,
    )


DRILL_WITHIN = timedelta(days=92)  # a quarter: the plan's drills are at least quarterly


def backup_drills(tenant, now) -> Evidence:
    """The last restore drill passed within a quarter, under the policy's RTO, with a signature that verifies."""
    from apps.safety import drills
    from apps.safety.choices import DrillStatus
    from apps.safety.models import RestoreDrill

    link = "/admin/safety/restoredrill/"
    last = (
        RestoreDrill.objects.filter(status__in=[DrillStatus.PASSED, DrillStatus.FAILED])
        .order_by("-finished_at")
        .first()
    )
    if last is None:
        return Evidence("backup.drills", RED, "no restore drill has run", collected_at=now, link=link)
    if last.finished_at < now - DRILL_WITHIN:
        return Evidence(
            "backup.drills",
            RED,
            f"the last restore drill (#{last.pk}) is older than a quarter",
            collected_at=now,
            link=link,
        )
    problem = drills.report_problem(last)
    if problem:
        return Evidence("backup.drills", RED, f"drill #{last.pk}'s report: {problem}", collected_at=now, link=link)
    if last.status != DrillStatus.PASSED:
        return Evidence(
            "backup.drills",
            RED,
            f"the last restore drill (#{last.pk}) failed: {last.error[:200]}",
            last.started_at,
            last.finished_at,
            now,
            link,
        )
    return Evidence(
        "backup.drills",
        GREEN,
        f"drill #{last.pk} passed: RTO {last.rto_seconds:.0f} s, RPO {last.rpo_seconds:.0f} s, report signed",
        last.started_at,
        last.finished_at,
        now,
        link,
    )


def finops_caps(tenant, now) -> Evidence:
    """Per-tenant cost caps (CC9.1): a tenant's budget blocks at a total or LLM cap (so one tenant cannot run up
    the LLM provider or the batch capacity), or only alerts; installation-wide, how many tenants are capped."""
    from apps.core.models import Tenant
    from apps.finops import services as finops
    from apps.finops.choices import CapAction, Category
    from apps.finops.models import Budget, BudgetAlert

    link = "/admin/finops/budget/"
    tenants = [tenant] if tenant is not None else list(Tenant.objects.filter(is_active=True))
    budgets = {b.tenant_id: b for b in Budget.objects.filter(tenant__in=tenants).prefetch_related("caps")}

    def blocking(budget) -> list[str]:
        scopes = ["total"] if budget.total_cap is not None and budget.total_action == CapAction.BLOCK else []
        return scopes + [c.category for c in budget.caps.all() if c.action == CapAction.BLOCK]

    if tenant is not None:
        budget = budgets.get(tenant.pk)
        if budget is None:
            return Evidence("finops.caps", RED, f"{tenant.slug} has no budget: nothing caps its costs", link=link)
        status = finops.budget_status(tenant_id=tenant.pk, at=now)
        total = status.scope(finops.TOTAL)
        start = status.start
        alerts = BudgetAlert.objects.filter(budget=budget, period_start=start).count()
        said = (
            f"{finops.money(total.spent)} spent this month"
            + (f" of a {finops.money(total.cap)} total cap" if total.cap is not None else "")
            + f", {alerts} alert(s) sent; thresholds {', '.join(f'{t}%' for t in budget.thresholds)}"
        )
        caps = blocking(budget)
        if not caps:
            return Evidence("finops.caps", AMBER, f"{tenant.slug}'s budget only alerts at 100% ({said})", start,
                            now, now, link)  # fmt: skip
        if "total" not in caps and Category.LLM not in caps:
            return Evidence("finops.caps", AMBER, f"{tenant.slug} blocks at {', '.join(caps)} but not LLM calls "
                            f"or the total ({said})", start, now, now, link)  # fmt: skip
        return Evidence("finops.caps", GREEN, f"{tenant.slug} blocks at {', '.join(caps)} ({said})", start, now, now,
                        link)  # fmt: skip
    capped = [t for t in tenants if t.pk in budgets and blocking(budgets[t.pk])]
    if not tenants:
        return Evidence("finops.caps", AMBER, "no tenants yet", collected_at=now, link=link)
    reason = f"{len(capped)} of {len(tenants)} tenant(s) have a blocking cap"
    uncapped = [t.slug for t in tenants if t not in capped]
    if uncapped:
        reason += "; not: " + ", ".join(sorted(uncapped)[:10]) + (" …" if len(uncapped) > 10 else "")
    return Evidence("finops.caps", GREEN if not uncapped else AMBER if capped else RED, reason, collected_at=now,
                    link=link)  # fmt: skip


def _not_built(source: str, what: str, issue: int) -> Callable:
    def compute(tenant, now) -> Evidence:
        return Evidence(source, RED, f"no evidence: {what} are not built yet (issue {issue})")

    return compute


SOURCES: dict[str, Callable] = {
    "audit.verification": audit_verification,
    "audit.sealing": audit_sealing,
    "audit.coverage": audit_coverage,
    "audit.retention": audit_retention,
    "access.reviews": access_reviews,
    "access.policy": access_policy,
    "access.tokens": access_tokens,
    "access.roles": access_roles,
    "api.contract": api_contract,
    "er.models": er_models,
    "attestation": attestation,
    "backup.policy": backup_policy,
    "backup.drills": backup_drills,
    "scaling.policy": _not_built("scaling.policy", "the autoscaling policy and its events", 18),
    "finops.caps": finops_caps,
}


def evidence_for(source: str, *, control: Control, tenant: Tenant | None, now: datetime) -> Evidence:
    compute = SOURCES.get(source)
    if compute is None:
        return Evidence(source, RED, f"unknown evidence source {source!r}")
    try:
        return compute(tenant, now, control) if source == "attestation" else compute(tenant, now)
    except Exception as exc:  # a source that fails is red with why; it never fails the dashboard
        logger.exception("evidence source %s failed", source)
        return Evidence(source, RED, f"could not be computed: {type(exc).__name__}: {exc}")


def control_health(*, tenant: Tenant | None = None, now: datetime | None = None, controls=None) -> list[ControlHealth]:
    """Every active control's status for ``tenant`` (None: the installation as a whole), worst source first."""
    now = now or timezone.now()
    controls = list(controls if controls is not None else Control.objects.filter(is_active=True))
    excluded = {}
    if tenant is not None:
        excluded = {
            a.control_id: a.reason
            for a in ControlApplicability.objects.filter(tenant=tenant, applicable=False, control__in=controls)
        }
    computed: dict[str, Evidence] = {}
    rows = []
    for control in controls:
        if control.pk in excluded:
            rows.append(ControlHealth(control, EXCLUDED, f"excluded: {excluded[control.pk]}", [], excluded[control.pk]))
            continue
        evidence = []
        for source in control.sources:
            if source == "attestation":
                evidence.append(evidence_for(source, control=control, tenant=tenant, now=now))
            else:
                if source not in computed:
                    computed[source] = evidence_for(source, control=control, tenant=tenant, now=now)
                evidence.append(computed[source])
        if not evidence:
            rows.append(ControlHealth(control, RED, "no evidence source", []))
            continue
        worst = max(evidence, key=lambda e: RANK.get(e.status, 2))
        rows.append(ControlHealth(control, worst.status, worst.reason, evidence))
    return rows
