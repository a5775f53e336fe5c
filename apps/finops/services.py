"""FinOps services: the rate card, budget status and enforcement at the caps, threshold and forecast alerts,
overage requests. Every change is audited with what it was before and after.

Spend is computed, never stored: folded usage (``UsageDaily``) plus what is still counted in Redis
(``metering.unfolded_many``), priced at the rate in force on each day. When Redis is unreachable the status is
computed from PostgreSQL alone (the counts Redis could not take went to PostgreSQL directly), and an alert says
enforcement is running without the live counters.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.finops import metering, selectors
from apps.finops.choices import CATEGORY_OF, NEVER_BLOCKED, CapAction, Category, OverageStatus
from apps.finops.errors import BudgetExceeded, CostsRefused, FinopsError, TenantUnknown
from apps.finops.models import Budget, BudgetAlert, OverageRequest, Rate
from intelgraph import alerts

logger = logging.getLogger(__name__)
TOTAL = "total"
SCOPES = (TOTAL, *Category.values)


def _today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def scope_label(scope: str) -> str:
    """How a scope is said in messages: "total", "LLM", "compute", "storage"."""
    return "total" if scope == TOTAL else "LLM" if scope == Category.LLM else Category(scope).label.lower()


def money(value: Decimal | None) -> str:
    """Money as people read it: cents, or four decimals below one unit (an LLM call costs fractions of a cent)."""
    if value is None:
        return "—"
    places = Decimal("0.01") if abs(value) >= 1 or value == 0 else Decimal("0.0001")
    return f"{value.quantize(places, rounding=ROUND_HALF_UP):,} {settings.FINOPS_CURRENCY}"


# --------------------------------------------------------------------------- rate card


def rate_problems(rate: Rate, *, original: Rate | None) -> dict[str, str]:
    """Why a rate may not be saved: rates in force priced usage already, so they are never rewritten."""
    today = _today()
    problems = {}
    if original is not None and original.effective_from <= today:
        changed = [f for f in ("feature", "unit", "model", "price", "per", "effective_from")
                   if getattr(original, f) != getattr(rate, f)]  # fmt: skip
        if changed:
            problems["__all__"] = (
                f"This rate has been in force since {original.effective_from}: changing it would rewrite costs "
                "already billed. Add a new rate from today or a later day instead."
            )
    elif rate.effective_from is not None and rate.effective_from < today:
        problems["effective_from"] = (
            f"A new rate cannot start in the past ({rate.effective_from}): usage up to today is priced already. "
            f"Start it today ({today}) or later."
        )
    return problems


def rate_deletable(rate: Rate) -> str | None:
    if rate.effective_from <= _today():
        return f"The rate from {rate.effective_from} has priced usage already; it is kept. Add a new rate instead."
    return None


def rate_changed(*, actor, rate: Rate, before: dict | None, deleted: bool = False) -> None:
    after = None if deleted else rate_fields(rate)
    audit.record("finops.rate_changed", actor=actor, target=rate, payload={"before": before, "after": after})


def rate_fields(rate: Rate) -> dict:
    return {
        "feature": rate.feature, "unit": rate.unit, "model": rate.model, "price": str(rate.price), "per": rate.per,
        "effective_from": rate.effective_from.isoformat() if rate.effective_from else None,
    }  # fmt: skip


# --------------------------------------------------------------------------- budget status


@dataclass
class ScopeStatus:
    scope: str
    spent: Decimal
    cap: Decimal | None  # with active raises
    base_cap: Decimal | None
    raised: Decimal
    action: str
    forecast: Decimal  # spend at the end of the period at today's burn rate

    @property
    def percent(self) -> float | None:
        if self.cap is None:
            return None
        if self.cap == 0:
            return 100.0 if self.spent > 0 else 0.0
        return float(self.spent / self.cap * 100)

    @property
    def reached(self) -> bool:
        return self.cap is not None and self.spent >= self.cap


@dataclass
class BudgetStatus:
    budget: Budget | None
    tenant_id: int
    start: datetime.date
    end: datetime.date
    spend: selectors.Spend
    scopes: dict[str, ScopeStatus]
    live_counters: bool  # False: Redis was unreachable, figures are PostgreSQL's alone
    raises_lapse: datetime.datetime | None = None  # when the first active raise lapses (a cap falls then)

    def scope(self, name: str) -> ScopeStatus:
        return self.scopes[name]


def raises_active(
    *, tenant_ids, at: datetime.datetime | None = None
) -> dict[int, tuple[dict[str, Decimal], datetime.datetime]]:
    """Approved raises not yet lapsed, per tenant: their sums by scope and when the first of them lapses,
    ``{tenant_id: ({scope: amount}, lapses)}``."""
    at = at or timezone.now()
    found: dict[int, tuple[dict[str, Decimal], datetime.datetime]] = {}
    for tenant_id, scope, amount, expires_at in OverageRequest.objects.filter(
        tenant_id__in=list(tenant_ids), status=OverageStatus.APPROVED, expires_at__gt=at
    ).values_list("tenant_id", "scope", "approved_amount", "expires_at"):
        scopes, lapses = found.get(tenant_id, ({}, expires_at))
        scopes[scope] = scopes.get(scope, Decimal(0)) + (amount or Decimal(0))
        found[tenant_id] = (scopes, min(lapses, expires_at))
    return found


def budget_status(*, tenant_id: int, at: datetime.datetime | None = None) -> BudgetStatus:
    """Spent against every cap of the tenant's budget in the current period (live Redis counts included)."""
    return budget_statuses(tenant_ids=[tenant_id], at=at)[tenant_id]


def budget_statuses(*, tenant_ids, at: datetime.datetime | None = None) -> dict[int, BudgetStatus]:
    """``budget_status`` of several tenants in a fixed number of queries (budget lists, the platform's page)."""
    at = at or timezone.now()
    tenant_ids = list(dict.fromkeys(tenant_ids))
    start, end = selectors.period_bounds(at)
    spends, live = _spend_many(tenant_ids=tenant_ids, start=start, end=end)
    budgets = {b.tenant_id: b for b in Budget.objects.filter(tenant_id__in=tenant_ids).prefetch_related("caps")}
    raised = raises_active(tenant_ids=tenant_ids, at=at)
    elapsed = max(
        (at.astimezone(datetime.UTC) - datetime.datetime.combine(start, datetime.time(), datetime.UTC)).total_seconds(),
        3600,
    )
    length = (end - start).days * 86400
    statuses = {}
    for tenant_id in tenant_ids:
        budget, spend = budgets.get(tenant_id), spends[tenant_id]
        extra_of, lapses = raised.get(tenant_id, ({}, None))
        caps = {cap.category: cap for cap in budget.caps.all()} if budget else {}
        scopes = {}
        for scope in SCOPES:
            spent = spend.total(None if scope == TOTAL else scope)
            if scope == TOTAL:
                base = budget.total_cap if budget else None
                action = budget.total_action if budget else CapAction.ALERT
            else:
                cap = caps.get(scope)
                base, action = (cap.amount if cap else None), (cap.action if cap else CapAction.ALERT)
            extra = extra_of.get(scope, Decimal(0))
            scopes[scope] = ScopeStatus(
                scope=scope, spent=spent, cap=None if base is None else base + extra, base_cap=base, raised=extra,
                action=action, forecast=spent * Decimal(length) / Decimal(elapsed),
            )  # fmt: skip
        statuses[tenant_id] = BudgetStatus(budget, tenant_id, start, end, spend, scopes, live, lapses)
    return statuses


@dataclass
class CostReport:
    """What a tenant spent in one month, for the drill-downs (admin, GraphQL ``costs``)."""

    tenant_id: int
    start: datetime.date
    end: datetime.date  # exclusive
    spend: selectors.Spend
    status: BudgetStatus  # this month's caps, raises and forecast
    live_counters: bool

    @property
    def current(self) -> bool:
        """The month in progress: caps, bars and the forecast apply to it."""
        return self.status.start == self.start

    def rows(self, by: tuple[str, ...]) -> list[dict]:
        return selectors.grouped(self.spend.lines, by)


def month_parse(text: str | None) -> datetime.date | None:
    """``YYYY-MM`` as the month's first day; blank: None (this month). FinopsError says what is wrong."""
    if not text:
        return None
    try:
        moment = datetime.datetime.strptime(text, "%Y-%m")
        if not 2000 <= moment.year <= 9998:
            raise ValueError(text)
    except (TypeError, ValueError):
        raise FinopsError(f"month: give a month as YYYY-MM, 2000-01 to 9998-12 (got {text!r}).") from None
    return moment.date()


def cost_report(*, tenant_id: int, month: datetime.date | None = None) -> CostReport:
    """The tenant's spend in ``month`` (default this one): folded usage and what Redis still counts, priced at
    the rate in force on each day, with this month's budget status beside it."""
    status = budget_status(tenant_id=tenant_id)
    start, end = selectors.period_bounds(month or status.start)
    if start == status.start:
        return CostReport(tenant_id, start, end, status.spend, status, status.live_counters)
    spend, live = _spend(tenant_id=tenant_id, start=start, end=end)
    return CostReport(tenant_id, start, end, spend, status, live)


def costs_for(*, subject, tenant: str | None, month: str | None) -> tuple[str, CostReport]:
    """A tenant's costs in a month for one of its members (GraphQL ``costs``): the tenant named by slug, or the
    subject's only one; only where the policy lets the member read costs (tenant-read ``costs``). Returns the
    tenant's slug and its report."""
    from apps.access import services as access
    from apps.core.models import Tenant

    slugs = dict(Tenant.objects.filter(pk__in=subject.tenant_ids).values_list("slug", "pk"))
    if tenant is None:
        if len(slugs) != 1:
            raise TenantUnknown(
                "tenant: name one of yours (" + (", ".join(sorted(slugs)) or "you are a member of none") + ")."
            )
        tenant = next(iter(slugs))
    tenant_id = slugs.get(tenant)
    if tenant_id is None:
        raise TenantUnknown(f"tenant: no tenant {tenant!r} among yours.")
    if not access.tenant_read_allowed(subject=subject, tenant_id=tenant_id, what="costs"):
        role = access.tenant_read_needs("costs")
        raise CostsRefused(
            f"Reading the costs of {tenant} needs the role {role} or higher there"
            + (", and an operation whose safelist tags include tenant.costs." if subject.operation_actions else ".")
        )
    return tenant, cost_report(tenant_id=tenant_id, month=month_parse(month))


def _spend(*, tenant_id: int, start: datetime.date, end: datetime.date) -> tuple[selectors.Spend, bool]:
    spends, live = _spend_many(tenant_ids=[tenant_id], start=start, end=end)
    return spends[tenant_id], live


def _spend_many(*, tenant_ids, start: datetime.date, end: datetime.date) -> tuple[dict[int, selectors.Spend], bool]:
    """Spend on [start, end) with the live Redis counts, and whether they could be read (False: PostgreSQL's
    figures alone, and an alert says enforcement runs without them)."""
    try:
        with metering.readers_lock():
            unfolded = metering.unfolded_many(tenant_ids=set(tenant_ids), since=start)
            return selectors.spend_many(tenant_ids=tenant_ids, start=start, end=end, unfolded=unfolded), True
    except Exception as exc:
        logger.warning("finops: Redis unavailable for the live counters (%s); PostgreSQL figures only", exc)
        alerts.alert(
            key="finops-redis",
            subject="Budget enforcement without live counters",
            body=f"Redis could not be reached ({exc}). Budgets are enforced from PostgreSQL's aggregates alone "
            "until it is back; usage is written to PostgreSQL directly meanwhile.",
        )
        return selectors.spend_many(tenant_ids=tenant_ids, start=start, end=end), False


@dataclass
class TenantCosts:
    """One tenant's line on the platform's page: the month's spend beside the month before, and its caps."""

    tenant_id: int
    slug: str
    name: str
    spend: selectors.Spend
    status: BudgetStatus
    previous: Decimal  # the month before's total

    @property
    def total(self) -> Decimal:
        return self.spend.total()

    @property
    def change(self) -> float | None:
        """Percent up or down on the month before; None when there was nothing to compare with."""
        return None if not self.previous else float((self.total - self.previous) / self.previous * 100)

    @property
    def top_feature(self) -> tuple[str, Decimal] | None:
        rows = selectors.grouped(self.spend.lines, ("feature",))
        return (rows[0]["feature"], rows[0]["cost"]) if rows and rows[0]["cost"] > 0 else None


def tenants_compared(*, tenant_ids, month: datetime.date | None = None) -> list[TenantCosts]:
    """Every tenant's spend in ``month`` (default this one) and the month before, with this month's budget
    status, largest spender first: a fixed number of queries and one pass over Redis, however many tenants."""
    from apps.core.models import Tenant

    tenants = list(Tenant.objects.filter(pk__in=list(tenant_ids)).values_list("pk", "slug", "name"))
    ids = [pk for pk, _, _ in tenants]
    statuses = budget_statuses(tenant_ids=ids)
    this_month = selectors.period_bounds(timezone.now())[0]
    start, end = selectors.period_bounds(month or this_month)
    if start == this_month:
        spends = {pk: statuses[pk].spend for pk in ids}
    else:
        spends, _ = _spend_many(tenant_ids=ids, start=start, end=end)
    before_start, before_end = selectors.period_bounds(start - datetime.timedelta(days=1))
    before, _ = _spend_many(tenant_ids=ids, start=before_start, end=before_end)
    lines = [TenantCosts(pk, slug, name, spends[pk], statuses[pk], before[pk].total()) for pk, slug, name in tenants]
    return sorted(lines, key=lambda line: (-line.total, line.slug))


def enforce(*, tenant_id: int, feature: str, actor=None) -> None:
    """Refuse (``BudgetExceeded``) an action of ``feature`` when a blocking cap over it is reached. Searches and
    graph reads are never refused; LLM calls are checked by the gateway, against what they may cost."""
    if feature in NEVER_BLOCKED:
        return
    status = budget_status(tenant_id=tenant_id)
    if status.budget is None:
        return
    for scope in (CATEGORY_OF[feature], TOTAL):
        item = status.scopes[scope]
        if item.action == CapAction.BLOCK and item.reached:
            refuse(tenant_id=tenant_id, feature=feature, scope=scope, cap=item.cap, spent=item.spent, actor=actor)


def refuse(
    *, tenant_id: int, feature: str, scope: str, cap: Decimal, spent: Decimal, actor=None,
    held: Decimal | None = None, reserve: Decimal | None = None, model: str = "",
) -> None:  # fmt: skip
    """Audit a refusal at a blocking cap and raise ``BudgetExceeded`` with a message that names the cap, the
    figures and who can raise it. ``held`` and ``reserve``: an LLM call's view (calls in flight, its maximum)."""
    label = scope_label(scope)
    if reserve is None:
        said = f"The {label} budget of this tenant is reached: {money(spent)} spent of a {money(cap)} cap this month."
    else:
        said = (
            f"The {label} budget of this tenant would be passed: {money(spent)} spent and {money(held)} held by "
            f"calls in flight, of a {money(cap)} cap this month; this call may cost up to {money(reserve)}."
        )
    payload = {"feature": feature, "scope": scope, "cap": str(cap), "spent": str(spent)}
    if reserve is not None:
        payload.update(reserved=str(held), reserve=str(reserve), model=model)
    audit.record("finops.blocked", actor=actor, tenant=tenant_id, payload=payload)
    raise BudgetExceeded(
        f"{said} A tenant administrator can raise the cap in the admin (Budgets), or anyone in the tenant can ask "
        "for a raise (Overage requests).",
        scope=scope, cap=cap, spent=spent,
    )  # fmt: skip


# --------------------------------------------------------------------------- budget changes


def budget_fields(budget: Budget | None) -> dict:
    if budget is None or budget.pk is None:
        return {}
    return {
        "total_cap": None if budget.total_cap is None else str(budget.total_cap),
        "total_action": budget.total_action,
        "thresholds": list(budget.thresholds),
        "forecast_alerts": budget.forecast_alerts,
        "alert_emails": budget.alert_emails,
        "caps": {cap.category: {"amount": str(cap.amount), "action": cap.action} for cap in budget.caps.all()},
    }


def budget_changed(*, actor, budget: Budget, before: dict) -> None:
    after = budget_fields(budget)
    if after == before:
        return
    changed = {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}
    audit.record(
        "finops.budget_changed", actor=actor, tenant=budget.tenant_id, target=budget,
        payload={"changed": changed},
    )  # fmt: skip


# --------------------------------------------------------------------------- alerts


def budget_alerts_check(*, at: datetime.datetime | None = None) -> list[BudgetAlert]:
    """Send each threshold and forecast alert once per budget, scope and period; returns the ones sent now."""
    at = at or timezone.now()
    sent = []
    budgets = list(Budget.objects.select_related("tenant").prefetch_related("caps"))
    statuses = budget_statuses(tenant_ids=[budget.tenant_id for budget in budgets], at=at)
    for budget in budgets:
        status = statuses[budget.tenant_id]
        for item in status.scopes.values():
            if item.cap is None:
                continue
            percent = item.percent or 0.0
            crossed = [t for t in sorted(budget.thresholds) if percent >= t]
            if crossed:
                # Only the highest threshold reached is said; lower ones not yet sent are recorded as covered.
                alert = _alert_once(budget, status, item, kind="threshold", threshold=crossed[-1], covered=crossed[:-1])
                if alert:
                    sent.append(alert)
            elif budget.forecast_alerts and item.cap > 0 and item.forecast > item.cap and _forecastable(status, at):
                alert = _alert_once(budget, status, item, kind="forecast", threshold=100, covered=[])
                if alert:
                    sent.append(alert)
    return sent


FORECAST_AFTER_DAYS = 3  # a month's first days say little about its burn (a daily storage sample is a day's worth)


def _forecastable(status: BudgetStatus, at: datetime.datetime) -> bool:
    return (at.astimezone(datetime.UTC).date() - status.start).days >= FORECAST_AFTER_DAYS


def _forecast_day(status: BudgetStatus, item: ScopeStatus, at_days: float) -> datetime.date | None:
    if item.spent <= 0 or item.cap is None:
        return None
    per_day = item.spent / Decimal(max(at_days, 1 / 24))
    days = float(item.cap / per_day)
    return status.start + datetime.timedelta(days=days)


def _alert_once(budget, status, item, *, kind, threshold, covered) -> BudgetAlert | None:
    label = scope_label(item.scope)
    link = f"{settings.SITE_URL}/admin/finops/budget/{budget.pk}/change/"
    if kind == "forecast":
        elapsed = (timezone.now().astimezone(datetime.UTC).date() - status.start).days + 1
        day = _forecast_day(status, item, elapsed)
        subject = f"Budget forecast: {budget.tenant.slug} {label} on track to reach 100% on {day}"
        body = (
            f"{budget.tenant} has spent {money(item.spent)} of its {label} cap of {money(item.cap)} "
            f"({item.percent:.1f}%) this month; at this rate it reaches 100% on {day} and "
            f"{money(item.forecast)} by the end of the month.\n{link}"
        )
    else:
        subject = f"Budget at {threshold}%: {budget.tenant.slug} {label}"
        body = (
            f"{budget.tenant} has spent {money(item.spent)} of its {label} cap of {money(item.cap)} "
            f"({item.percent:.1f}%) in {status.start:%B %Y}."
            + (" New LLM calls, ER batch runs and exports are refused." if item.reached and item.action == CapAction.BLOCK else "")
            + f"\nDrill-down and caps: {link}"
        )  # fmt: skip
    try:
        with transaction.atomic():
            alert = BudgetAlert.objects.create(
                budget=budget, tenant_id=budget.tenant_id, scope=item.scope, kind=kind, threshold=threshold,
                period_start=status.start, spent=item.spent, cap=item.cap, message=body,
            )  # fmt: skip
            for lower in covered:
                BudgetAlert.objects.get_or_create(
                    budget=budget, scope=item.scope, kind=kind, threshold=lower, period_start=status.start,
                    defaults={"tenant_id": budget.tenant_id, "spent": item.spent, "cap": item.cap,
                              "message": f"covered by the {threshold}% alert"},
                )  # fmt: skip
            audit.record(
                "finops.alert_sent", tenant=budget.tenant_id, target=alert,
                payload={"scope": item.scope, "kind": kind, "threshold": threshold, "spent": str(item.spent),
                         "cap": str(item.cap)},
            )  # fmt: skip
            alerts.alert(key=f"budget:{budget.pk}:{item.scope}:{kind}:{threshold}:{status.start}", subject=subject,
                         body=body, emails=budget.emails())  # fmt: skip
    except IntegrityError:
        return None  # sent before (this period), or by a check running at the same moment
    return alert


# --------------------------------------------------------------------------- overage requests


def overage_request(*, tenant_id: int, user, scope: str, amount: Decimal, reason: str) -> OverageRequest:
    if scope not in SCOPES:
        raise FinopsError(f"scope must be one of {', '.join(SCOPES)}")
    if not reason.strip():
        raise FinopsError("Say why the raise is needed.")
    if amount is None or amount <= 0:
        raise FinopsError("Ask for a positive amount.")
    with transaction.atomic():
        item = OverageRequest.objects.create(
            tenant_id=tenant_id, scope=scope, amount=amount, reason=reason.strip(), requested_by=user
        )
        audit.record(
            "finops.overage_requested", actor=user, tenant=tenant_id, target=item,
            payload={"scope": scope, "amount": str(amount), "reason": reason.strip()[:500]},
        )  # fmt: skip
    return item


def overage_problem(*, item: OverageRequest, user, approve: bool, amount, expires_at) -> str | None:
    """Why this decision cannot be taken, or None."""
    if item.status != OverageStatus.PENDING:
        return f"This request was {item.status} already."
    if item.requested_by_id == user.pk:
        return "Another person decides a raise you asked for."
    if approve:
        if amount is None or amount <= 0:
            return "Approve a positive amount."
        if expires_at is None or expires_at <= timezone.now():
            return "Give the raise an expiry in the future."
        if expires_at > timezone.now() + datetime.timedelta(days=366):
            return "A raise lasts at most a year; change the cap itself for longer."
    return None


def overage_decide(
    *, item: OverageRequest, user, approve: bool, amount: Decimal | None = None,
    expires_at: datetime.datetime | None = None, note: str = "",
) -> OverageRequest:  # fmt: skip
    problem = overage_problem(item=item, user=user, approve=approve, amount=amount, expires_at=expires_at)
    if problem:
        raise FinopsError(problem)
    with transaction.atomic():
        item.status = OverageStatus.APPROVED if approve else OverageStatus.REJECTED
        item.decided_by, item.decided_at = user, timezone.now()
        item.approved_amount = amount if approve else None
        item.expires_at = expires_at if approve else None
        item.decision_note = note[:300]
        try:
            item.full_clean(exclude=["requested_by", "decided_by"])
        except ValidationError as exc:
            raise FinopsError(" ".join(exc.messages)) from None
        item.save()
        audit.record(
            "finops.overage_decided", actor=user, tenant=item.tenant_id, target=item,
            payload={"status": item.status, "amount": str(amount) if approve else None,
                     "expires_at": expires_at.isoformat() if approve else None, "note": note[:300]},
        )  # fmt: skip
    return item
