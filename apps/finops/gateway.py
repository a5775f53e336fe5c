"""The LLM gateway: an OpenAI-compatible chat-completions endpoint in front of one provider, metered and capped.

A call is checked, priced at its maximum (the prompt's estimated tokens plus ``max_tokens`` at the model's
rates), and that maximum is **reserved** against the tenant's LLM and total caps under a per-tenant lock (so 50
parallel calls at the cap pass it by at most one call's maximum), forwarded, then **settled**: the usage the
provider reports (or, when it reports none, an estimate from the text, marked estimated) is metered and the
reservation released. A provider that fails or times out releases the reservation and charges nothing.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit import services as audit
from apps.finops import selectors, services
from apps.finops.choices import CapAction, Category
from apps.finops.errors import FinopsError
from apps.finops.models import LlmReservation
from intelgraph import metering

logger = logging.getLogger(__name__)
ROLES = {"system", "user", "assistant", "tool", "developer"}
PASSED_ON = ("temperature", "top_p", "stop", "presence_penalty", "frequency_penalty", "seed", "user")
MAX_PROMPT_CHARS = 400_000
LOCK_CLASS = 0x1F1A  # pg_advisory_xact_lock(class, tenant id): one reservation check per tenant at a time


class GatewayError(FinopsError):
    """A refused or failed call, with the HTTP status and the OpenAI-style error type and code to answer."""

    def __init__(self, message: str, *, status: int, code: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.code, self.kind = status, code, kind


def configured() -> bool:
    return bool(settings.LLM_BASE_URL)


def estimate_tokens(text: str) -> int:
    """About four characters a token for English text (what OpenAI's guidance says); used only when the provider
    reports no usage, and for the reservation's prompt side."""
    return max(1, (len(text) + 3) // 4)


@dataclass
class Call:
    tenant_id: int
    user: object
    model: str
    payload: dict
    stream: bool
    max_tokens: int
    prompt_tokens_estimate: int
    max_cost: Decimal
    reservation_id: int | None = None
    feature_label: str = "gateway"


_RATES_FOR = 60.0  # seconds a model's rates are reused in a process (they price reservations and audit lines;
# the bill itself is computed from the rate card at read time, selectors.spend_many)
_rates_cache: dict[tuple[str, datetime.date], tuple[float, tuple]] = {}


def _rates(model: str) -> tuple[tuple[Decimal, int], tuple[Decimal, int]]:
    today = timezone.now().astimezone(datetime.UTC).date()
    cached = _rates_cache.get((model, today))
    if cached and time.monotonic() - cached[0] < _RATES_FOR:
        found = cached[1]
    else:
        found = (
            selectors.rate_on(feature="llm", unit="input_token", model=model, day=today),
            selectors.rate_on(feature="llm", unit="output_token", model=model, day=today),
        )
        if found[0] is not None and found[1] is not None:  # a missing rate is looked up again: it may be added now
            _rates_cache[(model, today)] = (time.monotonic(), found)
    if found[0] is None or found[1] is None:
        raise GatewayError(
            f"The rate card has no price for model {model!r} (input and output tokens): an administrator adds one "
            "in the admin (FinOps, Rates) before it can be used.",
            status=400, code="model_not_priced",
        )  # fmt: skip
    return found


def cost_of(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    (in_price, in_per), (out_price, out_per) = _rates(model)
    return selectors.price(Decimal(input_tokens), in_price, in_per) + selectors.price(
        Decimal(output_tokens), out_price, out_per
    )


def prepare(*, tenant_id: int, user, body) -> Call:
    """Check a chat-completions request body; GatewayError (400) with what is wrong. Nothing is reserved yet."""
    if not configured():
        raise GatewayError(
            "No LLM provider is configured for this installation (LLM_BASE_URL): LLM features are off.",
            status=503, code="llm_not_configured", kind="service_unavailable",
        )  # fmt: skip
    if not isinstance(body, dict):
        raise GatewayError("Send a JSON object: {model, messages, max_tokens?, stream?}.", status=400, code="bad_body")
    model = body.get("model")
    if not isinstance(model, str) or model not in settings.LLM_MODELS:
        allowed = ", ".join(settings.LLM_MODELS) or "none"
        raise GatewayError(f"model: one of {allowed} (got {model!r}).", status=400, code="model_not_allowed")
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 500:
        raise GatewayError("messages: a list of 1 to 500 messages.", status=400, code="bad_messages")
    chars = 0
    for index, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or message["role"] not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise GatewayError(
                f"messages[{index}]: {{\"role\": one of {sorted(ROLES)}, \"content\": text}}.", status=400,
                code="bad_messages",
            )  # fmt: skip
        chars += len(message["content"])
    if chars > MAX_PROMPT_CHARS:
        raise GatewayError(f"messages: at most {MAX_PROMPT_CHARS:,} characters in all.", status=400, code="too_long")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens", settings.LLM_DEFAULT_MAX_TOKENS))
    if (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= settings.LLM_MAX_TOKENS
    ):
        raise GatewayError(f"max_tokens: a whole number from 1 to {settings.LLM_MAX_TOKENS}.", status=400,
                           code="bad_max_tokens")  # fmt: skip
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise GatewayError("stream: true or false.", status=400, code="bad_stream")
    payload = {"model": model, "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
               "max_tokens": max_tokens, "stream": stream}  # fmt: skip
    for key in PASSED_ON:
        if key in body:
            value = body[key]
            if isinstance(value, float) and not math.isfinite(value):
                raise GatewayError(f"{key}: a finite number.", status=400, code="bad_parameter")
            if key in ("temperature", "top_p", "presence_penalty", "frequency_penalty") and (
                isinstance(value, bool) or not isinstance(value, (int, float))
            ):
                raise GatewayError(f"{key}: a number.", status=400, code="bad_parameter")
            payload[key] = value
    if stream:
        payload["stream_options"] = {"include_usage": True}
    text = "".join(m["content"] for m in messages)
    prompt_tokens = estimate_tokens(text) + 4 * len(messages)
    # The reservation's prompt side is an upper bound: a byte-level tokenizer never makes more tokens than bytes
    # (CJK text or emoji can be one token a character or more, four characters a token is only true of English).
    prompt_bound = len(text.encode("utf-8")) + 4 * len(messages)
    return Call(
        tenant_id=tenant_id, user=user, model=model, payload=payload, stream=stream, max_tokens=max_tokens,
        prompt_tokens_estimate=prompt_tokens, max_cost=cost_of(model, prompt_bound, max_tokens),
    )  # fmt: skip


@dataclass(frozen=True)
class _Limits:
    """A tenant's blocking LLM and total caps with what was spent against them, as of ``taken``."""

    taken: datetime.datetime  # read before the figures were: usage metered before it is in ``spent``
    until: float  # monotonic time after which it is read again
    version: int | None  # the tenant's limits version when read (None: read without Redis's version or live
    # counters, never reused)
    caps: tuple[tuple[str, Decimal, Decimal], ...]  # (scope, cap with raises, spent)


_limits: dict[int, _Limits] = {}
_SETTLED_KEPT = datetime.timedelta(seconds=60)  # a settled call's row outlives every snapshot it may be missing from
_LIMITS_AT_MOST = 30.0  # FINOPS_LIMITS_SECONDS is bounded well inside _SETTLED_KEPT
_CLOCK_MARGIN = datetime.timedelta(seconds=1)  # count calls settled just before the snapshot too (twice, never none)
LIMITS_KEY = "ig:finops:limits"  # Redis hash: tenant id -> a counter bumped whenever its budget, caps or raises change


def limits_changed(tenant_id: int) -> None:
    """A budget, cap or raise of the tenant changed: this process reads its limits again on the next call, and
    every other process does once the change is committed (the version it compares on each call moves)."""
    _limits.pop(tenant_id, None)

    def bump():
        _limits.pop(tenant_id, None)
        try:
            metering._redis().hincrby(LIMITS_KEY, str(tenant_id), 1)
        except Exception as exc:  # other processes then see it within FINOPS_LIMITS_SECONDS
            logger.warning("finops: could not publish a limits change of tenant %s (%s)", tenant_id, exc)

    transaction.on_commit(bump)


def limits_forget() -> None:
    """Forget every snapshot of this process (a rate card change; tests)."""
    _limits.clear()


def _version(tenant_id: int) -> int | None:
    try:
        value = metering._redis().hget(LIMITS_KEY, str(tenant_id))
    except Exception:
        return None
    return int(value or 0)


def _limits_of(tenant_id: int) -> _Limits:
    """The tenant's blocking caps over LLM calls and their spend: the full budget status (live Redis counts
    included), read again when the tenant's limits changed anywhere (one Redis round trip tells) or after
    ``FINOPS_LIMITS_SECONDS``. What LLM calls settled since it was read is added from their reservations' rows,
    so a snapshot that old never lets calls pass the cap; other usage since (an ER run's CPU against the total
    cap) is seen when it is read again. Without Redis it is read on every call."""
    version = _version(tenant_id)
    found = _limits.get(tenant_id)
    if found is not None and version is not None and found.version == version and time.monotonic() < found.until:
        return found
    with connection.cursor() as cursor:  # the database's clock: every time the check compares is from it
        cursor.execute("SELECT clock_timestamp()")
        taken = cursor.fetchone()[0]
    status = services.budget_status(tenant_id=tenant_id, at=taken)
    caps = []
    for scope in (Category.LLM, services.TOTAL) if status.budget is not None else ():
        item = status.scopes[scope]
        if item.action == CapAction.BLOCK and item.cap is not None:
            caps.append((scope, item.cap, item.spent))
    keep = min(settings.FINOPS_LIMITS_SECONDS, _LIMITS_AT_MOST)
    if status.raises_lapse is not None:  # a raise lapsing is no save: nothing bumps the version
        keep = min(keep, max((status.raises_lapse - taken).total_seconds(), 0))
    if not status.live_counters:
        version = None  # figures without the live counters: read again on the next call
    found = _Limits(taken, time.monotonic() + keep, version, tuple(caps))
    _limits[tenant_id] = found
    LlmReservation.objects.filter(
        Q(settled_at__lt=taken - _SETTLED_KEPT) | Q(expires_at__lt=taken - _SETTLED_KEPT), tenant_id=tenant_id
    ).delete()  # rows no snapshot can miss any more
    return found


def reserve(call: Call) -> None:
    """Hold the call's maximum cost against the tenant's blocking LLM and total caps, or refuse (BudgetExceeded).

    Under the tenant's lock: the spend snapshot (``_limits_of``) plus every reservation in flight (at its maximum)
    plus every call settled since the snapshot was read (at its real cost), plus this call's maximum, must stay
    within each cap. So 50 parallel calls at the cap pass it by at most one call's maximum, whichever process
    serves them. The refusal is audited after the lock is released."""
    limits = _limits_of(call.tenant_id)
    if not limits.caps:
        return  # no blocking LLM or total cap: nothing to hold the call against
    amount = _kept(call.max_cost)
    with connection.cursor() as cursor:  # one round trip: lock, sums, insert (migrations finops 0003 to 0005)
        cursor.execute(
            "SELECT in_flight, settled, reservation_id FROM finops_llm_reserve(%s, %s, %s, %s, %s, %s)",
            [call.tenant_id, call.model, amount, datetime.timedelta(seconds=settings.LLM_TIMEOUT_SECONDS * 2 + 60),
             limits.taken - _CLOCK_MARGIN, min(cap - spent for _, cap, spent in limits.caps)],
        )  # fmt: skip
        in_flight, settled, reservation_id = cursor.fetchone()
    if reservation_id is None:
        scope, cap, spent = next(
            (item for item in limits.caps if item[2] + in_flight + settled + amount > item[1]), limits.caps[0]
        )  # the cap it would pass
        _limits.pop(call.tenant_id, None)  # the next call reads the figures afresh
        services.refuse(
            tenant_id=call.tenant_id, feature="llm", scope=scope, cap=cap, spent=spent + settled, actor=call.user,
            held=in_flight, reserve=call.max_cost, model=call.model,
        )  # fmt: skip
    call.reservation_id = reservation_id


def _kept(amount: Decimal) -> Decimal:
    """An amount as the reservation column keeps it (four decimals), rounded up: a hold is never less."""
    return amount.quantize(Decimal("0.0001"), rounding=ROUND_CEILING)


def release(call: Call, *, cost: Decimal | None = None) -> None:
    """Give the reservation back: deleted when the call charged nothing, or kept a minute with the call's real
    cost (``cost``), so that spend snapshots read before its usage was metered still count it."""
    if call.reservation_id is None:
        return
    with connection.cursor() as cursor:
        if cost is None:
            cursor.execute("DELETE FROM finops_llmreservation WHERE id = %s", [call.reservation_id])
        else:
            cursor.execute("UPDATE finops_llmreservation SET amount = %s, settled_at = clock_timestamp() WHERE id = %s",
                           [_kept(cost), call.reservation_id])  # fmt: skip
    call.reservation_id = None


def settle(call: Call, *, usage: dict | None, text: str, started: float) -> dict:
    """Meter what the call used (reported, or estimated and marked), release its reservation, audit it."""
    try:
        reported = (
            isinstance(usage, dict)
            and isinstance(usage.get("prompt_tokens"), int)
            and isinstance(usage.get("completion_tokens", 0) or 0, int)
        )
        if reported:
            input_tokens, output_tokens = usage["prompt_tokens"], int(usage.get("completion_tokens") or 0)
        else:
            input_tokens, output_tokens = call.prompt_tokens_estimate, estimate_tokens(text) if text else 0
        metering.meter_split(
            tenant_ids=[call.tenant_id], feature="llm", counts={"input_token": input_tokens,
            "output_token": output_tokens}, model=call.model, estimated=not reported,
        )  # fmt: skip
        cost = cost_of(call.model, input_tokens, output_tokens)
        release(call, cost=cost)  # after the metering: a snapshot read between the two counts the call twice, never not
    finally:
        release(call)  # an error before the metering: nothing to keep
    audit.record(
        "finops.llm_called", actor=call.user, tenant=call.tenant_id,
        payload={"model": call.model, "input_tokens": input_tokens, "output_tokens": output_tokens,
                 "estimated": not reported, "cost": str(cost), "stream": call.stream, "via": call.feature_label,
                 "ms": round((time.perf_counter() - started) * 1000, 1)},
    )  # fmt: skip
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "estimated": not reported, "cost": cost}


_clients: dict[tuple, httpx.Client] = {}


def _client() -> httpx.Client:
    """One pooled client per provider configuration (keep-alive connections, no handshake per call)."""
    key = (settings.LLM_BASE_URL, settings.LLM_API_KEY, settings.LLM_TIMEOUT_SECONDS)
    client = _clients.get(key)
    if client is None or client.is_closed:
        client = _clients[key] = httpx.Client(
            base_url=settings.LLM_BASE_URL,
            headers={"Authorization": f"Bearer {settings.LLM_API_KEY}"} if settings.LLM_API_KEY else {},
            timeout=httpx.Timeout(settings.LLM_TIMEOUT_SECONDS, connect=min(10.0, settings.LLM_TIMEOUT_SECONDS)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
    return client


def _provider_error(exc: Exception) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        return GatewayError(f"The LLM provider did not answer within {settings.LLM_TIMEOUT_SECONDS:g} s; nothing "
                            "was charged.", status=504, code="provider_timeout", kind="api_error")  # fmt: skip
    return GatewayError(f"The LLM provider failed ({exc}); nothing was charged.", status=502, code="provider_error",
                        kind="api_error")  # fmt: skip


def complete(call: Call) -> tuple[dict, dict]:
    """A non-streaming call: (the provider's answer, what was settled). The caller reserved already."""
    started = time.perf_counter()
    try:
        response = _client().post("/chat/completions", json=call.payload)
        if response.status_code >= 400:
            raise httpx.HTTPStatusError(_said(response), request=response.request, response=response)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        release(call)
        raise _provider_error(exc) from None
    text = "".join(str((choice.get("message") or {}).get("content") or "") for choice in answer.get("choices") or [])
    return answer, settle(call, usage=answer.get("usage"), text=text, started=started)


def stream(call: Call) -> tuple[Iterator[bytes], Callable[[], None]]:
    """A streaming call: the provider's server-sent events passed on as they come, and ``finish`` (idempotent),
    which closes the provider's stream and settles: called when the events end, and by the response's closers
    when the client went away before reading them. A stream is cut at twice the provider timeout, inside its
    reservation's lifetime. The first event is read before this returns, so a provider that fails at once is an
    error response, not a broken stream."""
    started = time.perf_counter()
    context = _client().stream("POST", "/chat/completions", json=call.payload)
    entered = False
    try:
        response = context.__enter__()
        entered = True
        if response.status_code >= 400:
            response.read()
            raise httpx.HTTPStatusError(_said(response), request=response.request, response=response)
        lines = response.iter_lines()
        first = next(lines, None)
    except (httpx.HTTPError, ValueError) as exc:
        if entered:
            context.__exit__(None, None, None)
        release(call)
        raise _provider_error(exc) from None

    seen = {"usage": None, "text": [], "done": False}

    def finish() -> None:
        """Close the provider's stream and settle, once: from the generator's end, or from the response being
        closed without ever being read (a client that went away before the first event)."""
        if seen["done"]:
            return
        seen["done"] = True
        context.__exit__(None, None, None)
        settle(call, usage=seen["usage"], text="".join(seen["text"]), started=started)

    deadline = started + settings.LLM_TIMEOUT_SECONDS * 2  # inside the reservation's lifetime (2x + 60 s)

    def events() -> Iterator[bytes]:
        usage, text = None, seen["text"]
        try:
            for line in _chain(first, lines):
                if time.perf_counter() > deadline:
                    logger.warning("LLM stream cut at %.0f s (the call's deadline)", time.perf_counter() - started)
                    break
                if line.startswith("data: ") and line != "data: [DONE]":
                    try:
                        chunk = json.loads(line[6:])
                    except ValueError:
                        chunk = {}
                    if isinstance(chunk, dict):
                        usage = chunk.get("usage") or usage
                        seen["usage"] = usage
                        for choice in chunk.get("choices") or []:
                            if isinstance(choice, dict):
                                text.append(str((choice.get("delta") or {}).get("content") or ""))
                yield (line + "\n").encode()
        except httpx.HTTPError as exc:
            logger.warning("LLM stream broke off: %s", exc)
        finally:
            finish()

    return events(), finish


def _chain(first, rest):
    if first is not None:
        yield first
    yield from rest


def _said(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("message") or response.status_code)
    except ValueError:
        return f"HTTP {response.status_code}"
