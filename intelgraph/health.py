"""Liveness (/healthz) and readiness (/readyz) probes as JSON."""

import time

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from apps.audit.selectors import unsealed_window
from apps.graph.services import outbox_lag
from apps.graph.store import GraphStoreUnavailable, get_store
from intelgraph.metrics import AUDIT_UNSEALED_SECONDS, GRAPH_OUTBOX_AGE, GRAPH_OUTBOX_PENDING


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def _timed(check):
    started = time.perf_counter()
    try:
        detail = check()
        result = {"ok": True}
        if detail:
            result.update(detail)
    except Exception as exc:  # a probe reports every failure, it never raises
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _postgres():
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


def _migrations():
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise RuntimeError(f"{len(pending)} migration(s) not applied")


def _redis():
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _graph():
    try:
        get_store().ping()
    except GraphStoreUnavailable:
        get_store.cache_clear()
        raise
    return {"backend": get_store().backend}


def _outbox():
    lag = outbox_lag()
    GRAPH_OUTBOX_PENDING.set(lag["pending"])
    GRAPH_OUTBOX_AGE.set(lag["oldest_seconds"])
    return lag


def _audit_sealing():
    """The unsealed window: not ok past AUDIT_UNSEALED_ALERT_SECONDS (degraded, not unavailable: appends go on)."""
    window = unsealed_window()
    AUDIT_UNSEALED_SECONDS.set(window["oldest_seconds"])
    if window["oldest_seconds"] > settings.AUDIT_UNSEALED_ALERT_SECONDS:
        raise RuntimeError(
            f"{window['unsealed']} audit event(s) unsealed, the oldest for {window['oldest_seconds']:.0f} s "
            f"(limit {settings.AUDIT_UNSEALED_ALERT_SECONDS} s); {window['sealer']}"
        )
    return window


# Without these the product cannot serve. The graph store is not among them: when it is down,
# neighbourhoods come from PostgreSQL (degraded) and the outbox keeps every change for later.
REQUIRED = ("postgres", "migrations", "redis")


@never_cache
def readyz(request):
    checks = {
        "postgres": _timed(_postgres),
        "migrations": _timed(_migrations),
        "redis": _timed(_redis),
        "graph": _timed(_graph),
        "graph_outbox": _timed(_outbox),
        "audit_sealing": _timed(_audit_sealing),
    }
    ready = all(checks[name]["ok"] for name in REQUIRED)
    status = "unavailable" if not ready else "ready" if all(c["ok"] for c in checks.values()) else "degraded"
    return JsonResponse({"status": status, "checks": checks}, status=200 if ready else 503)
