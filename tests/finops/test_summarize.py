""" "Summarize the selection" in the Explorer: only what the user may see reaches the LLM (checked on what the
stand-in provider received), a declared purpose is needed, the call is metered, capped and audited, and with no
provider configured the feature says so."""

import datetime
import json
from decimal import Decimal

import pytest
from django.test import Client

from apps.access.services import SESSION_PURPOSE_KEY
from apps.audit.models import AuditEvent
from apps.core import services as core
from apps.core.choices import Role, Sensitivity
from apps.finops.models import Budget, BudgetCap, Rate
from tests import factories
from tools.llm_standin import StandIn

pytestmark = pytest.mark.django_db
MODEL = "standin-mini"


@pytest.fixture
def provider(settings):
    with StandIn() as standin:
        settings.LLM_BASE_URL, settings.LLM_API_KEY, settings.LLM_MODELS = standin.url, standin.api_key, [MODEL]
        month = datetime.date.today().replace(day=1)
        for unit in ("input_token", "output_token"):
            Rate.objects.create(feature="llm", unit=unit, price=Decimal("3"), per=1_000_000, effective_from=month)
        yield standin


@pytest.fixture
def world():
    tenant = core.tenant_create(slug="sum", feature_flags={"explorer": True})
    analyst = factories.user(tenant=tenant, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL)
    ada = factories.entity(tenant=tenant, name="Ada Lovelace")
    charles = factories.entity(tenant=tenant, name="Charles Babbage")
    account = factories.entity(
        tenant=tenant, kind="organization", name="Acme Holdings 99887766",
        attributes={"tax_id": "99887766"}, sensitivity=Sensitivity.INTERNAL,
    )  # fmt: skip
    secret = factories.entity(tenant=tenant, name="Moriarty Hidden", sensitivity=Sensitivity.TOP_SECRET)
    factories.relationship(tenant=tenant, from_entity=ada, to_entity=charles, kind="knows")
    factories.relationship(tenant=tenant, from_entity=ada, to_entity=secret, kind="knows")
    client = Client()
    client.force_login(analyst)
    return {"tenant": tenant, "client": client, "ids": [str(e.pk) for e in (ada, charles, account, secret)]}


def _summarize(client, ids):
    return client.post("/explorer/summarize", json.dumps({"ids": ids}), content_type="application/json")


def _declare(client, purpose="investigation"):
    session = client.session
    session[SESSION_PURPOSE_KEY] = purpose
    session.save()


def test_only_what_the_user_may_see_is_sent_and_the_summary_comes_back(provider, world):
    client = world["client"]
    refused = _summarize(client, world["ids"])
    assert refused.status_code == 403 and refused.json()["code"] == "PURPOSE_MISSING"
    assert not provider.requests

    _declare(client)
    response = _summarize(client, world["ids"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["summary"].startswith("Summary:") and body["model"] == MODEL
    sent = json.dumps(provider.requests[-1]["body"])
    assert "Ada Lovelace" in sent and "Charles Babbage" in sent and "-[knows]->" in sent
    assert "Moriarty" not in sent  # above the analyst's clearance: hidden, and its edge with it
    assert (
        "Acme Holdings" in sent and "99887766" not in sent and "7766" not in sent
    )  # name built from a withheld tax id
    assert body["entities"] == 3 and body["relationships"] == 1
    event = AuditEvent.objects.get(event_type="explorer.summarized")
    assert event.payload["purpose"] == "investigation" and "Ada" not in json.dumps(event.payload)
    assert AuditEvent.objects.filter(event_type="finops.llm_called", payload__via="explorer-summary").exists()


def test_a_summary_is_refused_at_the_llm_cap(provider, world):
    _declare(world["client"])
    budget = Budget.objects.create(tenant=world["tenant"])
    BudgetCap.objects.create(budget=budget, category="llm", amount=Decimal("0"), action="block")
    response = _summarize(world["client"], world["ids"])
    assert response.status_code == 429 and response.json()["code"] == "BUDGET_EXCEEDED"
    assert "LLM budget" in response.json()["error"] and not provider.requests


def test_without_a_provider_the_feature_says_so(settings, world):
    settings.LLM_BASE_URL = ""
    _declare(world["client"])
    response = _summarize(world["client"], world["ids"])
    assert response.status_code == 503 and response.json()["code"] == "LLM_NOT_CONFIGURED"
    assert "none is configured" in response.json()["error"]


def test_bad_selections_get_clear_errors(provider, world):
    _declare(world["client"])
    assert _summarize(world["client"], []).json()["code"] == "BAD_REQUEST"
    assert _summarize(world["client"], ["not-a-uuid"]).status_code == 400
    other = factories.entity(tenant=factories.tenant(), name="Elsewhere")
    nothing = _summarize(world["client"], [str(other.pk)])
    assert nothing.status_code == 400 and "Nothing in the selection is visible" in nothing.json()["error"]
    assert world["client"].post("/explorer/summarize", "nope", content_type="application/json").status_code == 400
