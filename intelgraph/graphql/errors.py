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


def _quality(request, media_type: str) -> float:
    """The q the Accept header gives exactly this media type, read by Django's own parser (wildcards and a
    missing header give 0: plain JSON stays the default, as the spec says)."""
    main_type, _, sub_type = media_type.partition("/")
    return max(
        (t.quality for t in request.accepted_types if (t.main_type, t.sub_type) == (main_type, sub_type)), default=0.0
    )


def wants_graphql_response(request) -> bool:
    """Whether the client asked for application/graphql-response+json at least as much as for plain JSON."""
    ours = _quality(request, GRAPHQL_RESPONSE)
    return ours > 0 and ours >= _quality(request, "application/json")


def response_content_type(request) -> str:
    return f"{GRAPHQL_RESPONSE}; charset=utf-8" if wants_graphql_response(request) else "application/json"


def require_user(info):
    user = info.context.user
    if not getattr(user, "is_authenticated", False):
        raise ApiError("Sign in or send an API token (Authorization: Bearer <token>).", ErrorCode.UNAUTHENTICATED)
    return user
