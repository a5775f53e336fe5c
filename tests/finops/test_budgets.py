"""Rates, budgets and caps: costs at the rate in force, enforcement at a blocking cap (never on searches),
threshold and forecast alerts once per period, overage raises, and the admin as the budget-cap UI."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.choices import Role
from apps.finops import metering as folding
from apps.finops import services
from apps.finops.errors import BudgetExceeded, FinopsError
from apps.finops.models import Budget, BudgetAlert, BudgetCap, OverageRequest, Rate, UsageDaily
from intelgraph import metering
from tests import factories

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today


def _rate(feature="llm", unit="input_token", price="10", per=1_000_000, model="", since=None):
    return Rate.objects.create(
        feature=feature, unit=unit, model=model, price=Decimal(price), per=per,
        effective_from=since or TODAY().replace(day=1),
    )  # fmt: skip


def _budget(tenant, *, total=None, caps=(), thresholds=None, forecast=False):
    budget = Budget.objects.create(
        tenant=tenant, total_cap=total, thresholds=thresholds or [50, 80, 95, 100], forecast_alerts=forecast
    )
    for category, amount, action in caps:
        BudgetCap.objects.create(budget=budget, category=category, amount=Decimal(amount), action=action)
    return budget


def _use(tenant, feature, unit, quantity, model=""):
    metering.meter(tenant_id=tenant.pk, feature=feature, unit=unit, quantity=quantity, model=model)


def test_costs_are_usage_times_the_rate_in_force_on_each_day():
    tenant = factories.tenant()
    month = TODAY().replace(day=1)
    _rate(price="10", since=month - datetime.timedelta(days=40))  # $10 per 1M tokens
    _rate(price="2", model="small-model", since=month - datetime.timedelta(days=40))
    _use(tenant, "llm", "input_token", 500_000)
    _use(tenant, "llm", "input_token", 1_000_000, model="small-model")
    folding.usage_fold()
    spend = services.budget_status(tenant_id=tenant.pk).spend
    assert spend.total() == Decimal("7")  # 0.5M at $10 (any model) + 1M at $2 (its own rate)
    assert spend.by_category()["llm"] == Decimal("7") and spend.by_category()["compute"] == 0

    # counts not folded yet are in the status too (enforcement never waits for the fold)
    _use(tenant, "llm", "input_token", 100_000)
    assert services.budget_status(tenant_id=tenant.pk).spend.total() == Decimal("8")


def test_an_er_batch_run_is_refused_at_a_blocking_compute_cap_searches_are_not(gql):
    tenant = factories.tenant()
    _rate(feature="er_batch", unit="run", price="50", per=1)
    _budget(tenant, caps=[("compute", "40", "block")])
    _use(tenant, "er_batch", "run", 1)  # $50 spent of a $40 cap
    folding.usage_fold()

    said = io.StringIO()
    with pytest.raises(CommandError, match=f"refused at a budget cap: {tenant.slug}"):
        call_command("er_run", "--tenant", tenant.slug, "--kind", "person", stderr=said)
    assert "compute budget of this tenant is reached: 50.00 USD spent of a 40.00 USD cap" in said.getvalue()
    assert AuditEvent.objects.filter(event_type="finops.blocked", tenant=tenant).exists()
    assert not AuditEvent.objects.filter(event_type="er.run", tenant=tenant).exists()

    # searches go on at the same cap (analysts are never locked out mid-investigation)
    services.enforce(tenant_id=tenant.pk, feature="search")
    reader = factories.user(tenant=tenant, role=Role.READER)
    factories.entity(tenant=tenant, name="Ada Lovelace")
    body = gql(reader).post('query { search(q: "Ada") { hits { displayName } } }')
    assert "errors" not in body and body["data"]["search"]["hits"][0]["displayName"] == "Ada Lovelace", body
    folding.usage_fold()
    searches = UsageDaily.objects.get(tenant=tenant, feature="search", unit="request")
    assert searches.quantity == 1  # and it was metered, with its database time
    assert UsageDaily.objects.get(tenant=tenant, feature="search", unit="db_second").quantity > 0


def test_an_alert_only_cap_never_blocks():
    tenant = factories.tenant()
    _rate(feature="er_batch", unit="run", price="50", per=1)
    _budget(tenant, caps=[("compute", "40", "alert")])
    _use(tenant, "er_batch", "run", 1)
    services.enforce(tenant_id=tenant.pk, feature="er_batch")  # no exception


def test_the_total_cap_blocks_too():
    tenant = factories.tenant()
    _rate(price="10")
    _budget(tenant, total="10")
    _use(tenant, "llm", "input_token", 900_000)  # $9 of $10
    services.enforce(tenant_id=tenant.pk, feature="er_batch")
    _use(tenant, "llm", "input_token", 100_000)  # $10 of $10
    with pytest.raises(BudgetExceeded) as refused:
        services.enforce(tenant_id=tenant.pk, feature="er_batch")
    assert refused.value.scope == "total" and refused.value.code == "BUDGET_EXCEEDED"
    assert "total budget of this tenant is reached: 10.00" in str(refused.value)


@pytest.fixture
def sent_at_once(django_capture_on_commit_callbacks):
    """Alerts are queued to a worker after the commit; here the task runs in the test, when the callbacks run."""
    from intelgraph.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True

    def check(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.budget_alerts_check(**kwargs)

    yield check
    app.conf.task_always_eager = before


def test_thresholds_alert_once_per_period_to_slack_and_mail(settings, slack, sent_at_once):
    url, received = slack
    settings.ALERT_EMAILS = ["finance@example.org"]
    settings.ALERT_SLACK_WEBHOOK_URL = url
    tenant = factories.tenant(slug="acme-budget")
    _rate(price="10")
    budget = _budget(tenant, caps=[("llm", "100", "block")])
    budget.alert_emails = "cfo@acme.example"
    budget.save()

    _use(tenant, "llm", "input_token", 5_500_000)  # $55: 50%
    folding.usage_fold()
    assert [a.threshold for a in sent_at_once()] == [50]
    _use(tenant, "llm", "input_token", 3_000_000)  # $85: 80% (crossed), 95% not yet
    folding.usage_fold()
    sent = sent_at_once()
    assert [(a.scope, a.threshold) for a in sent] == [("llm", 80)]
    assert sent_at_once() == []  # never twice

    operators = [m for m in mail.outbox if m.to == ["finance@example.org"]]
    contacts = [m for m in mail.outbox if m.to == ["cfo@acme.example"]]
    assert [m.subject for m in operators] == [
        "[IntelGraph] Budget at 50%: acme-budget LLM",
        "[IntelGraph] Budget at 80%: acme-budget LLM",
    ]
    assert [m.subject for m in contacts] == [m.subject for m in operators]  # separate messages: no shared To:
    assert len(mail.outbox) == 4
    assert "85.00 USD of its LLM cap of 100.00 USD (85.0%)" in operators[1].body
    assert f"/admin/finops/budget/{budget.pk}/change/" in operators[1].body
    assert [post["text"].split("\n")[0] for post in received] == [
        "*Budget at 50%: acme-budget LLM*",
        "*Budget at 80%: acme-budget LLM*",
    ]

    # a jump straight past 95% and 100% says 100% once; 95% is recorded as covered by it
    _use(tenant, "llm", "input_token", 2_000_000)
    folding.usage_fold()
    assert [a.threshold for a in sent_at_once()] == [100]
    assert "are refused" in mail.outbox[-1].body
    assert set(BudgetAlert.objects.values_list("threshold", flat=True)) == {50, 80, 95, 100}
    assert AuditEvent.objects.filter(event_type="finops.alert_sent", tenant=tenant).count() == 3


def test_a_forecast_alert_says_when_the_cap_will_be_reached(settings, sent_at_once):
    settings.ALERT_EMAILS = ["finance@example.org"]
    tenant = factories.tenant(slug="burn")
    _rate(price="10")
    _budget(tenant, caps=[("llm", "100", "block")], forecast=True, thresholds=[90])
    start = TODAY().replace(day=1)
    early = timezone.make_aware(datetime.datetime.combine(start + datetime.timedelta(days=1), datetime.time(12)))
    at = timezone.make_aware(datetime.datetime.combine(start + datetime.timedelta(days=3), datetime.time(12)))
    metering.meter(tenant_id=tenant.pk, feature="llm", unit="input_token", quantity=2_000_000, at=early)  # $20
    folding.usage_fold()
    assert sent_at_once(at=early) == []  # no forecast from a month's first days
    folding.usage_fold()
    sent = sent_at_once(at=at)
    assert [(a.kind, a.scope) for a in sent] == [("forecast", "llm")]
    assert "on track to reach 100% on" in mail.outbox[-1].subject
    assert sent_at_once(at=at) == []


def test_an_overage_raise_needs_another_person_and_lapses():
    tenant = factories.tenant()
    _rate(feature="er_batch", unit="run", price="50", per=1)
    _budget(tenant, caps=[("compute", "40", "block")])
    _use(tenant, "er_batch", "run", 1)
    analyst = factories.user(tenant=tenant, role=Role.ANALYST)
    admin = factories.user(tenant=tenant, role=Role.ADMIN)

    with pytest.raises(FinopsError, match="Say why"):
        services.overage_request(tenant_id=tenant.pk, user=analyst, scope="compute", amount=Decimal(100), reason=" ")
    asked = services.overage_request(
        tenant_id=tenant.pk, user=analyst, scope="compute", amount=Decimal(100), reason="month-end batch"
    )
    with pytest.raises(FinopsError, match="Another person"):
        services.overage_decide(item=asked, user=analyst, approve=True, amount=Decimal(100),
                                expires_at=timezone.now() + datetime.timedelta(days=3))  # fmt: skip
    with pytest.raises(FinopsError, match="expiry in the future"):
        services.overage_decide(item=asked, user=admin, approve=True, amount=Decimal(60), expires_at=timezone.now())
    services.overage_decide(item=asked, user=admin, approve=True, amount=Decimal(60),
                            expires_at=timezone.now() + datetime.timedelta(days=3))  # fmt: skip

    status = services.budget_status(tenant_id=tenant.pk).scope("compute")
    assert (status.base_cap, status.raised, status.cap) == (40, 60, 100)
    services.enforce(tenant_id=tenant.pk, feature="er_batch")  # $50 of $100: allowed again
    later = timezone.now() + datetime.timedelta(days=4)
    assert services.budget_status(tenant_id=tenant.pk, at=later).scope("compute").cap == 40  # lapsed by itself
    events = AuditEvent.objects.filter(tenant=tenant, event_type__startswith="finops.overage")
    assert sorted(events.values_list("event_type", flat=True)) == ["finops.overage_decided", "finops.overage_requested"]


# --------------------------------------------------------------------------- the admin


def _admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _budget_form(budget, **changes):
    data = {
        "period": "monthly", "total_cap": "", "total_action": "block", "thresholds": "[50, 80, 95, 100]",
        "forecast_alerts": "on", "alert_emails": "",
        "caps-TOTAL_FORMS": "1", "caps-INITIAL_FORMS": "0", "caps-MIN_NUM_FORMS": "0", "caps-MAX_NUM_FORMS": "3",
        "caps-0-category": "llm", "caps-0-amount": "100", "caps-0-action": "block", "caps-0-budget": str(budget.pk),
    }  # fmt: skip
    data.update(changes)
    return data


def test_a_tenant_administrator_sets_caps_for_its_tenant_only_and_every_change_is_audited():
    tenant, other = factories.tenant(), factories.tenant()
    budget, foreign = _budget(tenant), _budget(other)
    admin = factories.user(tenant=tenant, role=Role.ADMIN)
    client = _admin_client(admin)

    response = client.post(f"/admin/finops/budget/{budget.pk}/change/", _budget_form(budget, total_cap="500"))
    assert response.status_code == 302, response.content.decode()[:2000]
    budget.refresh_from_db()
    assert budget.total_cap == 500 and budget.caps.get().amount == 100
    changed = AuditEvent.objects.get(event_type="finops.budget_changed", tenant=tenant)
    assert changed.payload["changed"]["total_cap"] == [None, "500.0000"]
    assert changed.payload["changed"]["caps"] == [{}, {"llm": {"amount": "100.0000", "action": "block"}}]

    assert client.get(f"/admin/finops/budget/{foreign.pk}/change/").status_code in (302, 404)
    refused = client.post(f"/admin/finops/budget/{foreign.pk}/change/", _budget_form(foreign, total_cap="1"))
    assert refused.status_code in (302, 403, 404)
    foreign.refresh_from_db()
    assert foreign.total_cap is None

    analyst = _admin_client(factories.user(tenant=tenant, role=Role.ANALYST))
    analyst.post(f"/admin/finops/budget/{budget.pk}/change/", _budget_form(budget, total_cap="9999"))
    budget.refresh_from_db()
    assert budget.total_cap == 500  # analysts see the budget; only administrators change it


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total_cap": "-5"}, "greater than or equal to 0"),
        ({"total_cap": "lots"}, "Enter a number"),
        ({"thresholds": "[50, 150]"}, "between 1% and 100%"),
        ({"thresholds": "[]"}, "This field is required"),
        ({"thresholds": "[50, 50]"}, "Each threshold once"),
        ({"thresholds": "80%"}, "Enter a valid JSON"),
        ({"caps-0-amount": "-1"}, "greater than or equal to 0"),
        ({"alert_emails": "cfo at acme"}, "Not an e-mail address"),
    ],
)
def test_bad_budget_input_is_a_form_error_and_changes_nothing(changes, message):
    tenant = factories.tenant()
    budget = _budget(tenant)
    client = _admin_client(factories.user(tenant=tenant, role=Role.ADMIN))
    response = client.post(f"/admin/finops/budget/{budget.pk}/change/", _budget_form(budget, **changes))
    assert response.status_code == 200 and message in response.content.decode()
    budget.refresh_from_db()
    assert budget.total_cap is None and not budget.caps.exists()


def test_a_rate_in_the_past_or_in_force_cannot_rewrite_billed_history():
    root = _admin_client(factories.user(tenant=factories.tenant(), superuser=True))
    yesterday = TODAY() - datetime.timedelta(days=1)
    form = {"feature": "search", "unit": "request", "model": "", "price": "0.5", "per": "1000", "note": ""}
    response = root.post("/admin/finops/rate/add/", {**form, "effective_from": yesterday.isoformat()})
    assert "cannot start in the past" in response.content.decode()
    assert not Rate.objects.exists()

    assert root.post("/admin/finops/rate/add/", {**form, "effective_from": TODAY().isoformat()}).status_code == 302
    rate = Rate.objects.get()
    response = root.post(
        f"/admin/finops/rate/{rate.pk}/change/", {**form, "price": "0.1", "effective_from": TODAY().isoformat()}
    )
    assert "would rewrite costs already billed" in response.content.decode()
    rate.refresh_from_db()
    assert rate.price == Decimal("0.5")
    assert root.post(f"/admin/finops/rate/{rate.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(event_type="finops.rate_changed").count() == 1

    staff = _admin_client(factories.user(tenant=factories.tenant(), role=Role.ADMIN))
    assert staff.get("/admin/finops/rate/").status_code == 200  # staff read the prices
    assert staff.post("/admin/finops/rate/add/", {**form, "effective_from": TODAY().isoformat()}).status_code == 403


def test_an_analyst_asks_for_a_raise_and_an_administrator_decides_in_the_admin():
    tenant = factories.tenant()
    _budget(tenant, caps=[("llm", "100", "block")])
    analyst = factories.user(tenant=tenant, role=Role.ANALYST)
    admin = factories.user(tenant=tenant, role=Role.ADMIN)
    asking = _admin_client(analyst)
    response = asking.post("/admin/finops/overagerequest/add/",
                           {"tenant": tenant.pk, "scope": "llm", "amount": "50", "reason": "due diligence sprint"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    item = OverageRequest.objects.get()
    assert (item.requested_by, item.status) == (analyst, "pending")

    # the analyst cannot approve it; the administrator can, with an expiry
    expires = (timezone.now() + datetime.timedelta(days=7)).strftime("%Y-%m-%d")
    decision = {"decision": "approve", "approved_amount": "50", "expires_at_0": expires, "expires_at_1": "12:00:00",
                "decision_note": "ok for the sprint"}  # fmt: skip
    asking.post(f"/admin/finops/overagerequest/{item.pk}/change/", decision)
    item.refresh_from_db()
    assert item.status == "pending"
    response = _admin_client(admin).post(f"/admin/finops/overagerequest/{item.pk}/change/", decision)
    assert response.status_code == 302, response.content.decode()[:3000]
    item.refresh_from_db()
    assert (item.status, item.approved_amount, item.decided_by) == ("approved", 50, admin)
    assert services.budget_status(tenant_id=tenant.pk).scope("llm").cap == 150


def test_the_drill_down_charts_groups_and_exports_a_tenants_costs_only():
    tenant, other = factories.tenant(slug="drill"), factories.tenant()
    _rate(price="10")
    _rate(feature="search", unit="request", price="0.50", per=1000)
    budget, foreign = _budget(tenant, total="100"), _budget(other)
    _use(tenant, "llm", "input_token", 2_000_000, model="standin-mini")  # $20
    for _ in range(4):
        _use(tenant, "search", "request", 1)
    folding.usage_fold()
    client = _admin_client(factories.user(tenant=tenant, role=Role.COMPLIANCE))

    page = client.get(f"/admin/finops/budget/{budget.pk}/costs/?group=model")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="burn-chart"' in html and 'class="daily-chart"' in html and 'class="cap"' in html
    assert "standin-mini" in html and "20.0000" in html
    csv_rows = client.get(f"/admin/finops/budget/{budget.pk}/costs.csv?group=feature").content.decode().splitlines()
    assert csv_rows[0] == "category,feature,unit,quantity,cost_usd"
    assert "llm,llm,input_token,2000000.000000,20.000000" in csv_rows
    assert "compute,search,request,4.000000,0.002000" in csv_rows

    bad = client.get(f"/admin/finops/budget/{budget.pk}/costs/?month=last-week&group=planet").content.decode()
    assert "month: give a month as YYYY-MM" in bad or "group: one of" in bad
    assert client.get(f"/admin/finops/budget/{foreign.pk}/costs/").status_code == 403
    assert client.get(f"/admin/finops/budget/{foreign.pk}/costs.csv").status_code == 403


def test_with_redis_lost_enforcement_uses_postgres_alone_never_open_and_says_so(settings, caplog):
    tenant = factories.tenant()
    _rate(feature="er_batch", unit="run", price="50", per=1)
    _budget(tenant, caps=[("compute", "40", "block")])
    _use(tenant, "er_batch", "run", 1)
    folding.usage_fold()
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # Redis gone
    status = services.budget_status(tenant_id=tenant.pk)
    assert status.live_counters is False and status.scope("compute").spent == 50
    with pytest.raises(BudgetExceeded):
        services.enforce(tenant_id=tenant.pk, feature="er_batch")
    assert "Budget enforcement without live counters" in caplog.text


def test_the_drill_down_of_another_month_and_odd_months():
    tenant = factories.tenant()
    budget = _budget(tenant, total="100")
    client = _admin_client(factories.user(tenant=tenant, role=Role.ADMIN))
    for month in ("9999-12", "0001-01", "2026-13", "x"):
        page = client.get(f"/admin/finops/budget/{budget.pk}/costs/?month={month}")
        assert page.status_code == 200 and "month: give a month as YYYY-MM" in page.content.decode(), month
    past = client.get(f"/admin/finops/budget/{budget.pk}/costs/?month=2025-01").content.decode()
    assert "January 2025" in past and "No metered usage this month." in past
