"""Prometheus metrics for HTTP requests, exported at /metrics."""

import time

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUEST_LATENCY = Histogram(
    "ig_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern (not raw path, to bound cardinality).",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2.5, 5, 10),
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
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
