"""The GraphQL ``costs`` query: a tenant's integrators read what it spent, their own tenant only, as the access
policy allows (tenant-read ``costs``: analyst or higher), through the persisted operation ``costs:v1``."""

import datetime
from decimal import Decimal

import pytest

from apps.core.choices import Role
from apps.finops.models import Budget, BudgetCap, Rate, UsageDaily
from intelgraph import metering
from tests import factories

pytestmark = pytest.mark.django_db
TODAY = datetime.datetime.now(datetime.UTC).date


@pytest.fixture
def spending():
    """A tenant that searched and called an LLM this month (one call still in Redis, not folded), and ran ER
    last month; an analyst's token for it."""
    tenant = factories.tenant(slug="costs-acme")
    month = TODAY().replace(day=1)
    last = (month - datetime.timedelta(days=1)).replace(day=1)
    for feature, unit, model, price, per in (
        ("search", "request", "", "2", 1000), ("llm", "input_token", "mini", "1", 1_000_000),
        ("llm", "output_token", "mini", "4", 1_000_000), ("er_batch", "cpu_second", "", "0.01", 1),
    ):  # fmt: skip
        Rate.objects.create(feature=feature, unit=unit, model=model, price=Decimal(price), per=per, effective_from=last)
    UsageDaily.objects.create(tenant=tenant, day=month, feature="search", unit="request", quantity=5000)  # $10
    UsageDaily.objects.create(tenant=tenant, day=last, feature="er_batch", unit="cpu_second", quantity=300)  # $3
    metering.meter_split(tenant_ids=[tenant.pk], feature="llm", counts={"input_token": 1_000_000,
                         "output_token": 500_000}, model="mini")  # fmt: skip  # $1 + $2, live in Redis
    UsageDaily.objects.create(tenant=tenant, day=month, feature="graph", unit="request", quantity=7)  # no rate
    analyst = factories.user(tenant=tenant, role=Role.ANALYST)
    return tenant, factories.api_token(user=analyst)[1], analyst


def test_an_integrator_reads_this_months_costs_by_feature_and_model(gql, spending):
    tenant, token, _ = spending
    budget = Budget.objects.create(tenant=tenant, total_cap=Decimal("100"))
    BudgetCap.objects.create(budget=budget, category="llm", amount=Decimal("4"), action="block")
    body = gql(token=token).post("costs:v1", {"groupBy": ["FEATURE", "MODEL"]})
    assert not body.errors, body.errors
    costs = body.data["costs"]
    assert (costs["tenant"], costs["period"], costs["currency"]) == ("costs-acme", f"{TODAY():%Y-%m}", "USD")
    assert costs["start"] == TODAY().replace(day=1).isoformat() and costs["live"] is True
    assert costs["total"] == "13.000000"  # $10 of searches, $3 of LLM tokens still counted in Redis
    rows = {(row["feature"], row["model"]): row["cost"] for row in costs["rows"]}
    assert rows == {("search", ""): "10.000000", ("llm", "mini"): "3.000000", ("graph", ""): "0.000000"}
    assert all(row["day"] is None and row["category"] is None for row in costs["rows"])  # not grouped by
    assert {row["category"]: row["cost"] for row in costs["byCategory"]} == {
        "llm": "3.000000", "compute": "10.000000", "storage": "0.000000"}  # fmt: skip
    caps = {cap["scope"]: cap for cap in costs["caps"]}
    assert set(caps) == {"total", "llm"}
    assert (caps["llm"]["spent"], caps["llm"]["cap"], caps["llm"]["percent"], caps["llm"]["atCap"]) == (
        "3.000000", "4.000000", 75.0, "block")  # fmt: skip
    assert costs["unpriced"] == ["graph/request"]


def test_another_month_by_day_and_quantities(gql, spending):
    _, token, _ = spending
    last = (TODAY().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    costs = gql(token=token).post("costs:v1", {"period": f"{last:%Y-%m}", "groupBy": ["DAY", "UNIT"]}).data["costs"]
    assert costs["total"] == "3.000000" and costs["caps"] == []  # caps are this month's
    assert costs["rows"] == [{"category": None, "feature": None, "unit": "cpu_second", "model": None,
                              "day": last.isoformat(), "quantity": 300.0, "cost": "3.000000"}]  # fmt: skip
    mixed = gql(token=token).post("costs:v1", {"groupBy": ["CATEGORY"]}).data["costs"]["rows"]
    assert all(row["quantity"] is None for row in mixed if row["category"] == "llm")  # tokens in and out: no sum


def test_a_reader_is_refused_by_the_policy_and_nothing_else_is_said(gql, spending):
    tenant, _, _ = spending
    reader_token = factories.api_token(user=factories.user(tenant=tenant, role=Role.READER))[1]
    body = gql(token=reader_token).post("costs:v1", {})
    # the safelist entry asks for analyst: refused before anything runs
    assert body.error_code == "FORBIDDEN" and "analyst" in body.errors[0]["message"]
    assert "costs" not in (body.data or {})


def test_a_member_of_two_tenants_names_one_and_gets_only_what_the_policy_allows_there(gql, spending):
    _, _, analyst = spending
    other = factories.tenant(slug="costs-other")
    factories.membership(user=analyst, tenant=other, role=Role.READER)
    token = factories.api_token(user=analyst)[1]
    client = gql(token=token)
    unnamed = client.post("costs:v1", {})
    assert unnamed.error_code == "NOT_FOUND" and "costs-acme, costs-other" in unnamed.errors[0]["message"]
    assert client.post("costs:v1", {"tenant": "costs-acme"}).data["costs"]["total"] == "13.000000"
    refused = client.post("costs:v1", {"tenant": "costs-other"})  # a reader there
    assert refused.error_code == "FORBIDDEN" and "role analyst or higher" in refused.errors[0]["message"]
    stranger = factories.tenant(slug="costs-stranger")
    unknown = client.post("costs:v1", {"tenant": stranger.slug})  # exists, not theirs: no oracle
    assert unknown.error_code == "NOT_FOUND"
    assert client.post("costs:v1", {"tenant": "no-such"}).errors[0]["message"].replace("no-such", "x") == (
        unknown.errors[0]["message"].replace(stranger.slug, "x")
    )


@pytest.mark.parametrize(
    ("variables", "code", "said"),
    [
        ({"period": "2026-13"}, "BAD_USER_INPUT", "period: give a month as YYYY-MM"),
        ({"period": "last month"}, "BAD_USER_INPUT", "period: give a month as YYYY-MM"),
        ({"period": "1999-12"}, "BAD_USER_INPUT", "2000-01 to 9998-12"),
        ({"groupBy": ["DAY", "DAY"]}, "BAD_USER_INPUT", "groupBy: one to five different groups"),
        ({"groupBy": []}, "BAD_USER_INPUT", "groupBy: one to five different groups"),
    ],
)
def test_bad_input_is_a_coded_error(gql, spending, variables, code, said):
    _, token, _ = spending
    body = gql(token=token).post("costs:v1", variables)
    assert body.status == 200 and body.error_code == code and said in body.errors[0]["message"], body.errors


def test_an_unknown_group_is_refused_by_the_schema(gql, spending):
    _, token, _ = spending
    body = gql(token=token).post("costs:v1", {"groupBy": ["TENANT"]})
    assert body.errors and "CostGroup" in body.errors[0]["message"] and not body.data


def test_an_operation_without_the_costs_tag_cannot_read_costs(spending):
    from apps.access import services as access

    _, _, analyst = spending
    subject = access.subject_for(user=analyst)
    tenant_id = next(iter(subject.memberships))
    assert access.tenant_read_allowed(subject=subject, tenant_id=tenant_id, what="costs")
    subject.operation_actions = frozenset({"search"})  # what search:v1's tags allow
    assert not access.tenant_read_allowed(subject=subject, tenant_id=tenant_id, what="costs")
    subject.operation_actions = frozenset({"costs"})
    assert access.tenant_read_allowed(subject=subject, tenant_id=tenant_id, what="costs")
