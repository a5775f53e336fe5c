"""Graceful overload (platform layer): when no database connection can be had in time, say so with 503.

The web process's connection pool (``DATABASE_POOL_MAX``) waits ``DATABASE_POOL_TIMEOUT`` seconds for a free
connection. Past that the request cannot be served now, but nothing is wrong with it: the answer is 503 with
``Retry-After`` and the code ``OVERLOADED`` (in the GraphQL error shape, which every client here reads), never a
500 with a traceback in the log.
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import JsonResponse

from intelgraph.graphql.errors import ErrorCode, response_content_type

logger = logging.getLogger("intelgraph.overload")

RETRY_AFTER_SECONDS = 1


def pool_exhausted(exc: BaseException | None) -> bool:
    """Whether an exception is (or was caused by) the connection pool timing out."""
    try:
        from psycopg_pool import PoolTimeout
    except ImportError:  # no pool installed: never
        return False
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, PoolTimeout):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def overloaded_response(request) -> JsonResponse:
    response = JsonResponse(
        {
            "errors": [
                {
                    "message": "The server is busy: no database connection was free in time. Retry shortly.",
                    "extensions": {"code": ErrorCode.OVERLOADED, "retryAfterSeconds": RETRY_AFTER_SECONDS},
                }
            ]
        },
        status=503,
        content_type=response_content_type(request),
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class OverloadMiddleware:
    """Turns a view's connection-pool timeout into 503 OVERLOADED (``process_exception``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError) and pool_exhausted(exception):
            logger.warning("overloaded: no database connection within the pool timeout (%s)", request.path)
            return overloaded_response(request)
        return None
