"""Counting costly actions on the request path (platform layer; FinOps folds and prices them, apps/finops).

``meter()`` adds a quantity to one field of the Redis hash ``ig:finops:live``: one round trip, no database
write, so any layer may count (search, graph, ER, exports, the LLM gateway) without importing FinOps. When Redis
cannot be reached the quantity goes to the fallback FinOps registers at start-up (a direct write to PostgreSQL):
slower, never lost.
"""

from __future__ import annotations

import datetime
import functools
import logging
import time
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)

LIVE_KEY = "ig:finops:live"
FOLD_PREFIX = "ig:finops:fold:"
ESTIMATED_SUFFIX = "|estimated"

#: what is metered: value -> label
FEATURES = {
    "search": "Search",
    "graph": "Graph expansion",
    "er_batch": "ER batch run",
    "er_online": "Online ER scoring",
    "export": "Export",
    "storage_postgres": "PostgreSQL storage",
    "storage_graph": "Graph store storage",
    "storage_backup": "Backup storage",
    "llm": "LLM call",
}
#: what is counted: value -> label (storage is sampled daily as GB-days: a GB-month is 30 of them)
UNITS = {
    "request": "request",
    "db_second": "database second",
    "cpu_second": "CPU second",
    "pair": "candidate pair",
    "run": "run",
    "export": "export",
    "gb_day": "GB-day",
    "input_token": "input token",
    "output_token": "output token",
}

Fallback = Callable[[int, datetime.date, str, str, str, Decimal, bool], None]
_fallback: list[Fallback] = []


def fallback_register(function: Fallback) -> None:
    """Where counts go when Redis is unreachable (FinOps registers a direct PostgreSQL write)."""
    _fallback[:] = [function]


def _redis():
    return _redis_for(settings.REDIS_URL)


@functools.cache
def _redis_for(url: str):
    """One client (and its connection pool) per URL; short timeouts, so a dead Redis costs a request 1 s at most."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def field_of(*, tenant_id: int, day: datetime.date, feature: str, unit: str, model: str = "") -> str:
    return f"{tenant_id}|{day.isoformat()}|{feature}|{unit}|{model}"


def parse_field(field: str) -> tuple[int, datetime.date, str, str, str, bool]:
    estimated = field.endswith(ESTIMATED_SUFFIX)
    if estimated:
        field = field[: -len(ESTIMATED_SUFFIX)]
    tenant_id, day, feature, unit, model = field.split("|", 4)
    return int(tenant_id), datetime.date.fromisoformat(day), feature, unit, model, estimated


def meter(
    *,
    tenant_id: int | None,
    feature: str,
    unit: str,
    quantity: float | Decimal | int,
    model: str = "",
    estimated: bool = False,
    at: datetime.datetime | None = None,
) -> None:
    """Count ``quantity`` of ``feature`` in ``unit`` for the tenant now (or ``at``). Never raises for Redis."""
    meter_split(tenant_ids=[tenant_id], feature=feature, counts={unit: quantity}, model=model, estimated=estimated,
                at=at)  # fmt: skip


class DbTimer:
    """``connection.execute_wrapper`` that adds up the time the wrapped code spends in database calls."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def meter_split(
    *, tenant_ids, feature: str, counts: dict[str, float | Decimal | int], model: str = "", estimated: bool = False,
    at: datetime.datetime | None = None,
) -> None:  # fmt: skip
    """Count several units of one action in one round trip (an LLM call's input and output tokens, a search's
    request and database time). An action that spanned several tenants (a member of more than one searching all
    of them) charges each an equal share of every unit. Never raises for Redis: when it cannot be reached the
    counts go to the fallback (PostgreSQL), without asking Redis again."""
    if feature not in FEATURES or any(unit not in UNITS for unit in counts):
        raise ValueError(f"unknown feature or unit: {feature!r} {sorted(counts)!r}")
    tenant_ids = [t for t in tenant_ids if t is not None]
    if not tenant_ids:
        return
    share = 1.0 / len(tenant_ids)
    day = (at or timezone.now()).astimezone(datetime.UTC).date()
    model = model.replace("|", "/")[:80]
    items = [
        (field_of(tenant_id=tenant_id, day=day, feature=feature, unit=unit, model=model), tenant_id, unit,
         float(quantity) * share)
        for tenant_id in tenant_ids
        for unit, quantity in counts.items()
        if quantity
    ]  # fmt: skip
    if not items:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for field, _, _, quantity in items:
            pipe.hincrbyfloat(LIVE_KEY, field, quantity)
            if estimated:
                pipe.hincrbyfloat(LIVE_KEY, field + ESTIMATED_SUFFIX, quantity)
        pipe.execute()
    except Exception as exc:
        if _sent_maybe(exc):  # Redis may have applied it before the reply timed out: re-sending could count twice
            logger.error("metering: Redis timed out (%s); %s may or may not be counted", exc, _said(items))
            return
        if not _fallback:
            logger.error("metering: Redis unavailable (%s) and no fallback; %s not counted", exc, _said(items))
            return
        logger.warning("metering: Redis unavailable (%s); writing %s to PostgreSQL", exc, _said(items))
        for field, tenant_id, unit, quantity in items:
            try:
                _fallback[0](tenant_id, day, feature, unit, model, Decimal(str(quantity)), estimated)
            except Exception as fallback_exc:
                logger.error("metering: the fallback failed too (%s); %s %s not counted", fallback_exc, quantity,
                             field)  # fmt: skip


def _said(items) -> str:
    return ", ".join(f"{quantity:g} {field}" for field, _, _, quantity in items)


def _sent_maybe(exc: Exception) -> bool:
    """A reply that timed out after the command was sent (not a refused or failed connection)."""
    import redis

    return isinstance(exc, redis.exceptions.TimeoutError) and "connect" not in str(exc).lower()
