"""What a GraphQL caller gets when something is refused: stable error codes, the version header (platform layer).

Resolvers in every app raise ``ApiError(message, code)``; the view (``intelgraph.graphql.view``) renders it, and
request-level refusals before execution (``ApiHttpError``), without tracebacks.
"""

from __future__ import annotations

from django.http import HttpResponse
from graphene_django.views import HttpError
from graphql import GraphQLError

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


class ApiError(GraphQLError):
    """An error a caller can act on, with a stable machine-readable code."""

    def __init__(self, message: str, code: str, **extensions):
        super().__init__(message, extensions={"code": code, **extensions})


class ApiHttpError(HttpError):
    """A request-level refusal (before execution) with an error code, rendered like other errors."""

    def __init__(self, message: str, code: str, status: int = 400):
        super().__init__(HttpResponse(status=status), message)
        self.code = code


def require_user(info):
    user = info.context.user
    if not getattr(user, "is_authenticated", False):
        raise ApiError("Sign in or send an API token (Authorization: Bearer <token>).", ErrorCode.UNAUTHENTICATED)
    return user
