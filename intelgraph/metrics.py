"""Prometheus metrics for HTTP requests, exported at /metrics."""

import logging
import time

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

REQUEST_LATENCY = Histogram(
    "ig_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern (not raw path, to bound cardinality).",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2.5, 5, 10),
)
GRAPH_OUTBOX_PENDING = Gauge("ig_graph_outbox_pending", "Graph outbox rows not yet applied to the graph store.")
GRAPH_OUTBOX_AGE = Gauge(
    "ig_graph_outbox_lag_seconds", "Age of the oldest graph outbox row not yet applied (0 when drained)."
)
REQUESTS = Counter("ig_http_requests_total", "HTTP requests answered.", ["method", "route", "status"])


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
    from apps.graph.services import outbox_lag

    try:  # the lag is read when scraped, so every process reports the same, current figure
        lag = outbox_lag()
        GRAPH_OUTBOX_PENDING.set(lag["pending"])
        GRAPH_OUTBOX_AGE.set(lag["oldest_seconds"])
    except Exception as exc:  # a metrics scrape never fails for want of the database
        logging.getLogger(__name__).warning("graph outbox lag not read: %s", exc)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
