"""The GraphQL endpoint: error codes, version header, no tracebacks for callers."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView
from graphql import GraphQLError

logger = logging.getLogger("intelgraph.api")

API_VERSION = "v1"


class ErrorCode:
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    INTERNAL = "INTERNAL_SERVER_ERROR"
    CSRF_FAILED = "CSRF_FAILED"


class ApiError(GraphQLError):
    """An error a caller can act on, with a stable machine-readable code."""

    def __init__(self, message: str, code: str, **extensions):
        super().__init__(message, extensions={"code": code, **extensions})


def require_user(info):
    user = info.context.user
    if not getattr(user, "is_authenticated", False):
        raise ApiError("Sign in or send an API token (Authorization: Bearer <token>).", ErrorCode.UNAUTHENTICATED)
    return user


def subject_from(info):
    """The access-control subject of a GraphQL request: the user, and the purpose from x-ig-purpose
    (or, for a browser session, the purpose declared with the selector)."""
    from apps.access.errors import PurposeError
    from apps.access.services import subject_for_request

    require_user(info)
    try:
        return subject_for_request(info.context)
    except PurposeError as exc:
        raise ApiError(str(exc), ErrorCode.BAD_USER_INPUT, reason=exc.reason) from None


def _csrf_rejection(request):
    """CSRF protects cookie sessions only: anonymous calls and bearer-token calls carry no ambient credential."""
    if getattr(request, "auth_method", None) == "token" or not request.user.is_authenticated:
        return None
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})


@method_decorator(csrf_exempt, name="dispatch")
class IntelGraphGraphQLView(GraphQLView):
    """graphene-django's view with coded errors and the API version header on every response."""

    def dispatch(self, request, *args, **kwargs):
        if _csrf_rejection(request) is not None:
            response = JsonResponse(
                {"errors": [{"message": "CSRF token missing or incorrect for a session request; send the "
                             "X-CSRFToken header, or use an API token.", "extensions": {"code": ErrorCode.CSRF_FAILED}}]},
                status=403,
            )  # fmt: skip
        else:
            response = super().dispatch(request, *args, **kwargs)
        response["x-ig-api-version"] = API_VERSION
        return response

    @staticmethod
    def format_error(error):
        if not isinstance(error, GraphQLError):
            logger.error("GraphQL error outside execution: %r", error)
            return {"message": "Internal error.", "extensions": {"code": ErrorCode.INTERNAL}}
        formatted = error.formatted
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            # graphql-core's own parse/validation errors, or an ApiError raised on purpose.
            extensions = dict(formatted.get("extensions") or {})
            extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
            formatted["extensions"] = extensions
        elif isinstance(original, ValidationError):
            formatted["message"] = "; ".join(original.messages)
            formatted["extensions"] = {"code": ErrorCode.BAD_USER_INPUT}
        elif isinstance(original, PermissionDenied):
            formatted["message"] = str(original) or "Not allowed."
            formatted["extensions"] = {"code": ErrorCode.FORBIDDEN}
        else:
            logger.error("unexpected error in GraphQL resolver", exc_info=original)
            formatted["message"] = "Internal error."
            formatted["extensions"] = {"code": ErrorCode.INTERNAL}
        return formatted
