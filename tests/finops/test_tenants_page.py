"""The platform's page of every tenant's costs side by side, and the budget list that reads its rows' figures
together: superusers see every tenant, a tenant's staff only the tenants whose costs the policy lets them read."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core.choices import Role
from apps.finops.models import Budget, Rate, UsageDaily
from intelgraph import metering
from tests import factories

pytestmark = pytest.mark.django_db
TODAY = datetime.datetime.now(datetime.UTC).date


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def three():
    """Three tenants: big spends $30 this month ($20 of it still in Redis) under a $40 cap, and $10 the month
    before; small $5; idle nothing and no budget."""
    month = TODAY().replace(day=1)
    last = (month - datetime.timedelta(days=1)).replace(day=1)
    Rate.objects.create(feature="search", unit="request", price=Decimal("1"), per=1000, effective_from=last)
    Rate.objects.create(feature="llm", unit="output_token", model="mini", price=Decimal("10"), per=1_000_000,
                        effective_from=last)  # fmt: skip
    big, small, idle = (factories.tenant(slug=s) for s in ("big-bank", "small-shop", "idle-org"))
    UsageDaily.objects.create(tenant=big, day=month, feature="search", unit="request", quantity=10_000)
    metering.meter(tenant_id=big.pk, feature="llm", unit="output_token", model="mini", quantity=2_000_000)
    UsageDaily.objects.create(tenant=big, day=last, feature="search", unit="request", quantity=10_000)
    UsageDaily.objects.create(tenant=small, day=month, feature="search", unit="request", quantity=5_000)
    Budget.objects.create(tenant=big, total_cap=Decimal("40"))
    Budget.objects.create(tenant=small)
    return big, small, idle


def test_a_superuser_sees_every_tenant_largest_first_with_chart_and_csv(three):
    _, _, idle = three
    client = _client(factories.user(tenant=idle, role=Role.ADMIN, superuser=True))
    page = client.get("/admin/finops/budget/tenants/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("big-bank") < html.index("small-shop") < html.index("idle-org")
    assert "3 tenants, 35.00 USD in all." in html
    assert "30.00 USD" in html and "+200%" in html and "75.0%" in html  # $30 of the $40 cap, $10 the month before
    assert html.count('class="cap"') == 1  # the one total cap, drawn as a tick
    assert 'aria-label="Spend by tenant, stacked by category"' in html and "big-bank llm: 20.00" in html
    rows = list(csv.reader(io.StringIO(client.get("/admin/finops/budget/tenants.csv").content.decode())))
    assert rows[0][:2] == ["tenant", "total_usd"]
    assert [(row[0], row[1], row[5], row[6]) for row in rows[1:]] == [
        ("big-bank", "30.000000", "40.000000", "10.000000"),
        ("small-shop", "5.000000", "", "0.000000"),
        ("idle-org", "0.000000", "", "0.000000"),
    ]
    last = (TODAY().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    before = client.get(f"/admin/finops/budget/tenants/?month={last:%Y-%m}").content.decode()
    assert f"{last:%B %Y}" in before and "10.00 USD in all." in before


def test_a_tenant_administrator_sees_only_their_tenant(three):
    big, small, _ = three
    html = _client(factories.user(tenant=small, role=Role.ADMIN, staff=True)).get("/admin/finops/budget/tenants/")
    html = html.content.decode()
    assert "small-shop" in html and "big-bank" not in html and "1 tenant, 5.00 USD in all." in html
    csv_text = (
        _client(factories.user(tenant=small, role=Role.ANALYST, staff=True))
        .get("/admin/finops/budget/tenants.csv")
        .content.decode()
    )
    assert "small-shop" in csv_text and "big-bank" not in csv_text
    # nor the other tenant's drill-down, by its address
    budget = Budget.objects.get(tenant=big)
    other = _client(factories.user(tenant=small, role=Role.ADMIN, staff=True))
    assert other.get(f"/admin/finops/budget/{budget.pk}/costs/").status_code in (403, 404)


def test_a_bad_month_is_said_and_this_month_shown(three):
    _, _, idle = three
    client = _client(factories.user(tenant=idle, role=Role.ADMIN, superuser=True))
    for month in ("2026-13", "x", "0001-01"):
        page = client.get(f"/admin/finops/budget/tenants/?month={month}")
        assert page.status_code == 200 and "month: give a month as YYYY-MM" in page.content.decode()


def test_the_budget_list_reads_its_rows_figures_together(three):
    _, _, idle = three
    client = _client(factories.user(tenant=idle, role=Role.ADMIN, superuser=True))
    client.get("/admin/finops/budget/")  # warm the per-process caches

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/finops/budget/").status_code == 200
        return len(captured)

    two = queries()
    for slug in ("more-1", "more-2", "more-3", "more-4"):
        Budget.objects.create(tenant=factories.tenant(slug=slug), total_cap=Decimal("10"))
    assert queries() == two  # six budgets, the same queries as two


def test_a_member_of_one_tenant_gets_it_preselected_on_a_new_budget():
    tenant = factories.tenant(slug="only-one")
    page = _client(factories.user(tenant=tenant, role=Role.ADMIN, staff=True)).get("/admin/finops/budget/add/")
    assert page.status_code == 200
    assert f'<option value="{tenant.pk}" selected>only-one</option>' in page.content.decode()
