"""What a GraphQL caller gets when something is refused: stable error codes, the version header (platform layer).

Resolvers in every app raise ``ApiError(message, code)``; the view (``intelgraph.graphql.view``) renders it, and
request-level refusals before execution (``ApiHttpError``), without tracebacks.
"""

from __future__ import annotations

from django.http import HttpResponse
from graphene_django.views import HttpError
from graphql import GraphQLError

GRAPHQL_RESPONSE = "application/graphql-response+json"  # GraphQL over HTTP's own media type
API_VERSION = "v1"
SUPPORTED_VERSIONS = ("v1",)
VERSION_HEADER = "x-ig-api-version"


class ErrorCode:
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    INTERNAL = "INTERNAL_SERVER_ERROR"
    CSRF_FAILED = "CSRF_FAILED"
    BAD_REQUEST = "BAD_REQUEST"
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    TIMEOUT = "TIMEOUT"
    OVERLOADED = "OVERLOADED"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    BATCHING_NOT_SUPPORTED = "BATCHING_NOT_SUPPORTED"
    PERSISTED_QUERY_REQUIRED = "PERSISTED_QUERY_REQUIRED"


class ApiError(GraphQLError):
    """An error a caller can act on, with a stable machine-readable code."""

    def __init__(self, message: str, code: str, **extensions):
        super().__init__(message, extensions={"code": code, **extensions})


class ApiHttpError(HttpError):
    """A request-level refusal (before execution) with an error code, rendered like other errors."""

    def __init__(self, message: str, code: str, status: int = 400, headers: dict | None = None):
        super().__init__(HttpResponse(status=status, headers=headers), message)
        self.code = code


def _accepted(request) -> dict[str, float]:
    """Media types in the Accept header with their q values (absent: application/json, as the spec says)."""
    accepted = {}
    for part in request.headers.get("Accept", "application/json").split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            accepted[media.strip().lower()] = max(quality, accepted.get(media.strip().lower(), 0.0))
    return accepted


def wants_graphql_response(request) -> bool:
    """Whether the client asked for application/graphql-response+json at least as much as for plain JSON."""
    accepted = _accepted(request)
    ours = accepted.get(GRAPHQL_RESPONSE, 0.0)
    return ours > 0 and ours >= accepted.get("application/json", 0.0)


def response_content_type(request) -> str:
    return f"{GRAPHQL_RESPONSE}; charset=utf-8" if wants_graphql_response(request) else "application/json"


def require_user(info):
    user = info.context.user
    if not getattr(user, "is_authenticated", False):
        raise ApiError("Sign in or send an API token (Authorization: Bearer <token>).", ErrorCode.UNAUTHENTICATED)
    return user
