"""The LLM gateway against a local stand-in that speaks OpenAI's protocol (real providers cannot be reached from
here), called as integrators call it: the OpenAI Python SDK's wire format over HTTP with an IntelGraph token."""

import datetime
import json
import threading
from decimal import Decimal

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.core.choices import Role
from apps.finops import metering as folding
from apps.finops.models import Budget, BudgetCap, LlmReservation, Rate, UsageDaily
from tests import factories
from tools.llm_standin import StandIn

pytestmark = pytest.mark.django_db
MODEL = "standin-mini"


@pytest.fixture
def provider(settings):
    with StandIn(slow_seconds=3) as standin:
        settings.LLM_BASE_URL = standin.url
        settings.LLM_API_KEY = standin.api_key
        settings.LLM_MODELS = [MODEL, f"{MODEL}-slow", f"{MODEL}-error", f"{MODEL}-nousage"]
        settings.LLM_TIMEOUT_SECONDS = 1.0
        yield standin


@pytest.fixture
def priced():
    month = datetime.date.today().replace(day=1)
    for unit, price in (("input_token", "1.00"), ("output_token", "4.00")):  # per 1M tokens
        Rate.objects.create(feature="llm", unit=unit, price=Decimal(price), per=1_000_000, effective_from=month)


@pytest.fixture
def caller():
    tenant = factories.tenant(slug="llm-acme")
    user = factories.user(tenant=tenant, role=Role.ANALYST)
    _, raw = factories.api_token(user=user)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def post(body, **headers):
        return client.post("/llm/v1/chat/completions", data=json.dumps(body), content_type="application/json",
                           **headers)  # fmt: skip

    post.tenant, post.user = tenant, user
    return post


def _chat(model=MODEL, text="Ada Lovelace met Charles Babbage in London", **extra):
    return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 50, **extra}


def _tokens(tenant, unit):
    folding.usage_fold()
    row = UsageDaily.objects.filter(tenant=tenant, feature="llm", unit=unit).first()
    return row.quantity if row else 0


def test_a_call_is_forwarded_metered_and_audited(provider, priced, caller):
    response = caller(_chat())
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["choices"][0]["message"]["content"].startswith("Summary: Ada Lovelace")
    assert response["X-IG-Usage-Estimated"] == "false"
    sent = provider.requests[-1]
    assert sent["headers"]["Authorization"] == "Bearer sk-standin"  # the provider key, never the caller's token
    assert sent["body"]["model"] == MODEL and sent["body"]["max_tokens"] == 50
    assert _tokens(caller.tenant, "input_token") == answer["usage"]["prompt_tokens"]
    assert _tokens(caller.tenant, "output_token") == answer["usage"]["completion_tokens"]
    event = AuditEvent.objects.get(event_type="finops.llm_called")
    assert event.payload["model"] == MODEL and "Ada" not in json.dumps(event.payload)  # no text in the audit log
    assert not LlmReservation.objects.filter(settled_at__isnull=True).exists()  # none held


def test_streaming_passes_events_through_and_meters_the_reported_usage(provider, priced, caller):
    response = caller(_chat(stream=True))
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    body = b"".join(response.streaming_content).decode()
    events = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.startswith("Summary: Ada")
    usage = next(c["usage"] for c in chunks if c.get("usage"))
    assert provider.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    assert _tokens(caller.tenant, "output_token") == usage["completion_tokens"]
    assert not LlmReservation.objects.filter(settled_at__isnull=True).exists()  # none held


def test_a_response_without_usage_is_estimated_and_marked(provider, priced, caller):
    response = caller(_chat(model=f"{MODEL}-nousage"))
    assert response.status_code == 200 and response["X-IG-Usage-Estimated"] == "true"
    folding.usage_fold()
    row = UsageDaily.objects.get(tenant=caller.tenant, feature="llm", unit="output_token")
    assert row.quantity > 0 and row.estimated == row.quantity


@pytest.mark.parametrize(("model", "status", "code"), [(f"{MODEL}-error", 502, "provider_error"),
                                                        (f"{MODEL}-slow", 504, "provider_timeout")])  # fmt: skip
def test_a_failing_provider_charges_nothing_and_says_so(provider, priced, caller, model, status, code):
    response = caller(_chat(model=model))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code and "nothing was charged" in response.json()["error"]["message"]
    assert _tokens(caller.tenant, "input_token") == 0
    assert not LlmReservation.objects.exists()  # released: nothing charged, nothing kept


def test_a_call_past_the_cap_is_refused_with_429_naming_the_budget(provider, priced, caller):
    budget = Budget.objects.create(tenant=caller.tenant)
    BudgetCap.objects.create(budget=budget, category="llm", amount=Decimal("0.0001"), action="block")
    response = caller(_chat())
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "budget_exceeded" and error["scope"] == "llm"
    assert "LLM budget of this tenant would be passed" in error["message"] and "raise" in error["message"]
    assert not provider.requests  # never forwarded
    assert AuditEvent.objects.filter(event_type="finops.blocked", tenant=caller.tenant).exists()


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_calls_at_the_cap_never_pass_it_by_more_than_one_reservation(provider, priced, caller):
    # given a cap of what about ten calls cost at most (each reserves its maximum: prompt + 50 output tokens)
    from apps.finops import gateway, services

    one = gateway.cost_of(MODEL, gateway.estimate_tokens(_chat()["messages"][0]["content"]) + 4, 50)
    budget = Budget.objects.create(tenant=caller.tenant)
    cap = one * 10
    BudgetCap.objects.create(budget=budget, category="llm", amount=cap, action="block")
    results = []

    def call():
        from django.db import connection

        try:
            results.append(caller(_chat()).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    folding.usage_fold()
    spent = services.budget_status(tenant_id=caller.tenant.pk).scope("llm").spent
    assert sorted(set(results)) == [200, 429] and results.count(200) >= 5
    assert spent <= cap + one, (spent, cap, one)


def test_calls_settled_after_the_spend_snapshot_still_count_against_the_cap(settings, provider, priced, caller):
    # given a spend snapshot that time never renews (only a budget change would)
    from apps.finops import gateway, services

    settings.FINOPS_LIMITS_SECONDS = 3600
    one = gateway.cost_of(MODEL, gateway.estimate_tokens(_chat()["messages"][0]["content"]) + 4, 50)
    budget = Budget.objects.create(tenant=caller.tenant)
    BudgetCap.objects.create(budget=budget, category="llm", amount=one * 4, action="block")
    responses = [caller(_chat()) for _ in range(20)]
    statuses = [response.status_code for response in responses]
    # each call settles at its real cost, below its maximum: more than four pass, then the cap refuses them
    assert statuses.count(200) > 4 and statuses[-1] == 429, statuses
    assert statuses == sorted(statuses)  # once refused, refused
    # settled calls count as spent, not as held by calls in flight (there are none)
    assert "USD spent and 0.00 USD held by calls in flight" in responses[-1].json()["error"]["message"]
    folding.usage_fold()
    assert services.budget_status(tenant_id=caller.tenant.pk).scope("llm").spent <= one * 4
    assert LlmReservation.objects.filter(settled_at__isnull=False).count() == statuses.count(200)


def test_with_redis_lost_each_call_is_checked_against_postgres_and_never_let_through(settings, provider, priced,
                                                                                       caller, caplog):  # fmt: skip
    from apps.finops import gateway

    budget = Budget.objects.create(tenant=caller.tenant)
    BudgetCap.objects.create(budget=budget, category="llm", amount=Decimal("0.0002"), action="block")
    UsageDaily.objects.create(tenant=caller.tenant, day=datetime.datetime.now(datetime.UTC).date(), feature="llm",
                              unit="input_token", model=MODEL, quantity=200)  # fmt: skip  # $0.0002 of $0.0002
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # Redis gone: no live counters, no limits version
    response = caller(_chat())
    assert response.status_code == 429 and response.json()["error"]["code"] == "budget_exceeded"
    first = gateway._limits_of(caller.tenant.pk)
    assert first.version is None and first.caps  # read from PostgreSQL alone, the cap in it
    assert gateway._limits_of(caller.tenant.pk).taken > first.taken  # and read again on the next call, not reused
    assert "Budget enforcement without live counters" in caplog.text
    assert not provider.requests


def test_a_raise_that_lapses_ends_the_snapshot_that_counted_it(settings, provider, priced, caller):
    # a lapsing raise is no save that would bump the tenant's version: the snapshot must end when it lapses
    import time

    from apps.finops.models import OverageRequest

    settings.FINOPS_LIMITS_SECONDS = 3600
    budget = Budget.objects.create(tenant=caller.tenant)
    BudgetCap.objects.create(budget=budget, category="llm", amount=Decimal("0"), action="block")
    OverageRequest.objects.create(
        tenant=caller.tenant, scope="llm", amount=Decimal("1"), reason="a short case", requested_by=caller.user,
        status="approved", approved_amount=Decimal("1"), decided_by=caller.user,
        expires_at=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1.5),
    )  # fmt: skip
    assert caller(_chat()).status_code == 200  # within the raise
    time.sleep(1.6)
    assert caller(_chat()).status_code == 429  # the raise lapsed: the cap is 0 again


def test_a_budget_change_is_seen_by_the_next_call_of_another_process(
    provider, priced, caller, django_capture_on_commit_callbacks
):
    from apps.finops import gateway

    assert caller(_chat()).status_code == 200  # no budget: this process remembers there is no cap
    version = gateway._version(caller.tenant.pk)
    with django_capture_on_commit_callbacks() as on_commit:
        budget = Budget.objects.create(tenant=caller.tenant)
        BudgetCap.objects.create(budget=budget, category="llm", amount=Decimal("0"), action="block")
    assert caller(_chat()).status_code == 429  # this process forgot at once
    assert gateway._version(caller.tenant.pk) == version  # others are told only when the change commits
    for callback in on_commit:  # the commit
        callback()
    assert gateway._version(caller.tenant.pk) == version + 2  # the budget and its cap
    # another process still holds "no cap", not expired by time: the version tells it to read again
    gateway._limits[caller.tenant.pk] = gateway._Limits(gateway.timezone.now(), 10**12, version, ())
    assert caller(_chat()).status_code == 429


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}, "model_not_allowed"),
        ({"model": MODEL, "messages": []}, "bad_messages"),
        ({"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]}, "bad_messages"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**9}, "bad_max_tokens"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "bad_stream"),
        (["not", "an", "object"], "bad_body"),
        ({"model": MODEL, "messages": [{"role": ["user"], "content": "x"}]}, "bad_messages"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "bad_parameter"),
    ],
)
def test_bad_requests_get_a_coded_400_and_reach_no_provider(provider, priced, caller, body, code):
    response = caller(body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert not provider.requests


def test_a_nan_parameter_or_a_deeply_nested_body_is_a_400_not_a_500(provider, priced, caller):
    from django.test import Client as _Client

    _, raw = factories.api_token(user=caller.user)
    client = _Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = '{"model": "' + MODEL + '", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}'
    response = client.post("/llm/v1/chat/completions", data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_parameter"
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post("/llm/v1/chat/completions", data=deep, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_body"
    assert not provider.requests


def test_refusals_before_the_provider(settings, provider, caller):
    # no price for the model yet
    assert caller(_chat()).json()["error"]["code"] == "model_not_priced"
    # no provider configured
    settings.LLM_BASE_URL = ""
    response = caller(_chat())
    assert response.status_code == 503 and response.json()["error"]["code"] == "llm_not_configured"
    # a session (no token) and a tenant the caller is not in
    session = Client()
    session.force_login(caller.user)
    assert session.post("/llm/v1/chat/completions", data="{}", content_type="application/json").status_code == 401
    settings.LLM_BASE_URL = provider.url
    other = factories.tenant(slug="not-mine")
    assert caller(_chat(), HTTP_X_IG_TENANT=other.slug).status_code == 403
    assert not provider.requests


@pytest.mark.django_db(transaction=True)
def test_the_openai_sdk_calls_the_gateway_served_by_uvicorn(asgi_server_factory):
    # The client integrators use (openai on PyPI), against the product as `make run` serves it, the stand-in behind.
    import openai

    with StandIn() as standin:
        month = datetime.date.today().replace(day=1)
        for unit in ("input_token", "output_token"):
            Rate.objects.create(feature="llm", unit=unit, price=Decimal("2"), per=1_000_000, effective_from=month)
        tenant = factories.tenant(slug="sdk-acme")
        _, raw = factories.api_token(user=factories.user(tenant=tenant, role=Role.ANALYST))
        server = asgi_server_factory(
            LLM_BASE_URL=standin.url, LLM_API_KEY=standin.api_key, LLM_MODELS=MODEL, LLM_TIMEOUT_SECONDS="5"
        )
        client = openai.OpenAI(base_url=f"{server.url}/llm/v1", api_key=raw, max_retries=0)

        answer = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Grace Hopper wrote the first compiler"}], max_tokens=30
        )
        assert answer.choices[0].message.content.startswith("Summary: Grace Hopper")
        assert answer.usage.prompt_tokens > 0

        pieces = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Streams of text"}], max_tokens=30, stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in pieces if chunk.choices)
        assert text.startswith("Summary: Streams")

        budget = Budget.objects.create(tenant=tenant)
        BudgetCap.objects.create(budget=budget, category="llm", amount=Decimal("0"), action="block")
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "more"}], max_tokens=5)
        assert refused.value.status_code == 429 and refused.value.code == "budget_exceeded"
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
        assert bad.value.code == "model_not_allowed"
        assert len(standin.requests) == 2  # the refused and the bad call never reached the provider
