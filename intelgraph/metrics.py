"""Prometheus metrics for HTTP requests, exported at /metrics.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``manage.py`` sets it to ``var/prometheus`` for every process it
starts: web, Celery workers, beat and commands such as ``er_run``), each process writes its counters
there and /metrics adds them all up, so counters of work done by workers (ER merges, rules fallbacks,
candidate pairs) are seen from the web process too.
"""

import logging
import os
import time
from pathlib import Path

from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from intelgraph.processes import pid_alive

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_LATENCY = Histogram(
    "ig_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern (not raw path, to bound cardinality).",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2.5, 5, 10),
)
GRAPH_OUTBOX_PENDING = Gauge(
    "ig_graph_outbox_pending", "Graph outbox rows not yet applied to the graph store.", multiprocess_mode="mostrecent"
)
GRAPH_OUTBOX_AGE = Gauge(
    "ig_graph_outbox_lag_seconds",
    "Age of the oldest graph outbox row not yet applied (0 when drained).",
    multiprocess_mode="mostrecent",
)
REQUESTS = Counter("ig_http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
AUDIT_UNSEALED_SECONDS = Gauge(
    "ig_audit_unsealed_seconds",
    "Age of the oldest committed audit event the sealer has not sealed yet (0 when every event is sealed).",
    multiprocess_mode="mostrecent",
)
AUDIT_CHECKPOINT_SIZE = Gauge(
    "ig_audit_checkpoint_size",
    "Positions in the audit log's last signed checkpoint (a restored database shows a smaller figure).",
    multiprocess_mode="mostrecent",
)

# Data safety (apps.safety): the plan's "backup duration" and "restore RTO", and what the stale-backup alert reads.
BACKUP_DURATION = Histogram(
    "ig_backup_duration_seconds",
    "Time a base backup took (Barman, until its WAL is archived and its files checksummed), by kind and outcome.",
    ["kind", "status"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400),
)
BACKUP_LAST_GOOD_AGE = Gauge(
    "ig_backup_last_good_age_seconds",
    "Age of the newest good backup (absent until the first one).",
    multiprocess_mode="mostrecent",
)
RESTORE_RTO = Gauge(
    "ig_restore_rto_seconds",
    "RTO of the last restore drill: start of restore to the restored product answering readyz.",
    ["outcome"],
    multiprocess_mode="mostrecent",
)
RESTORE_RPO = Gauge(
    "ig_restore_rpo_seconds",
    "RPO of the last restore drill: target time to the last transaction recovered.",
    multiprocess_mode="mostrecent",
)
RESTORE_DRILLS = Counter("ig_restore_drills_total", "Restore drills finished, by outcome.", ["outcome"])


def backup_finished(*, kind: str, status: str, seconds: float) -> None:
    BACKUP_DURATION.labels(kind=kind, status=status).observe(seconds)


def backup_age(*, seconds: float | None) -> None:
    if seconds is not None:
        BACKUP_LAST_GOOD_AGE.set(seconds)


def drill_finished(*, outcome: str, rto_seconds: float | None, rpo_seconds: float | None) -> None:
    RESTORE_DRILLS.labels(outcome=outcome).inc()
    if rto_seconds is not None:
        RESTORE_RTO.labels(outcome=outcome).set(rto_seconds)
    if rpo_seconds is not None:
        RESTORE_RPO.set(rpo_seconds)


# Figures read from the database when /metrics is scraped, registered by the apps that own them (so this
# platform module imports no app): each hook sets its gauges and may raise; a failing hook is logged and skipped.
SCRAPE_HOOKS: list = []


def on_scrape(hook):
    """Register ``hook()`` to run before each scrape (``apps.audit`` sets the sealing gauges this way, ``apps.graph``
    the outbox lag)."""
    if hook not in SCRAPE_HOOKS:
        SCRAPE_HOOKS.append(hook)
    return hook


class PrometheusMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (
            match.route if match and match.route else ("admin" if request.path.startswith("/admin/") else "unmatched")
        )
        labels = (request.method, route, str(response.status_code))
        REQUEST_LATENCY.labels(*labels).observe(time.perf_counter() - started)
        REQUESTS.labels(*labels).inc()
        return response


def metrics_view(request):
    for hook in SCRAPE_HOOKS:
        try:
            hook()
        except Exception as exc:  # a metrics scrape never fails for want of the database: the figure is left out
            logging.getLogger(__name__).warning("metrics hook %s failed: %s", getattr(hook, "__name__", hook), exc)
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _registry():
    path = os.environ.get(MULTIPROC_ENV)
    if not path or not Path(path).is_dir():
        return REGISTRY  # one process: its own metrics
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return registry


def clean_multiprocess_dir(path: str | os.PathLike) -> int:
    """Remove the metric files of processes that have ended (``<kind>_<pid>.db``); returns how many went.

    ``manage.py run`` calls it when it starts, so counters of earlier runs do not add up forever, while the
    files of processes still running (another ``run``, a long ``er_run``) are kept.
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    removed = 0
    for file in folder.glob("*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            file.unlink(missing_ok=True)
            removed += 1
    return removed
