"""Bearer-token authentication for integrators, beside the admin's session login."""

from django.db import OperationalError
from django.http import JsonResponse
from django.utils.functional import SimpleLazyObject

from apps.core.services import api_token_active
from intelgraph.graphql.errors import response_content_type
from intelgraph.overload import overloaded_response, pool_exhausted


class ApiTokenMiddleware:
    """``Authorization: Bearer <token>`` authenticates the request as the token's user.

    A request that sends a token is judged by the token alone: an unknown,
    revoked or expired token is refused with 401, never silently downgraded to
    the session or to anonymous. Token requests carry no cookies to forge, so
    they are exempt from CSRF.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header:
            scheme, _, raw = header.partition(" ")
            if scheme.lower() != "bearer" or not raw.strip():
                return _unauthorized("Authorization header must be 'Bearer <token>'.", request)
            try:
                token = api_token_active(raw=raw.strip())
            except OperationalError as exc:
                if pool_exhausted(exc):  # the first query of a token request: no connection free in time
                    return overloaded_response(request)
                raise
            if token is None:
                return _unauthorized("The API token is unknown, revoked or expired.", request)
            user = token.user
            request.user = SimpleLazyObject(lambda: user)
            request.api_token = token
            request._dont_enforce_csrf_checks = True
            request.auth_method = "token"
        return self.get_response(request)


def _unauthorized(message: str, request) -> JsonResponse:
    """401 in the media type the client accepts (GraphQL over HTTP's own, for Apollo Client 4), with the code."""
    response = JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status=401,
        content_type=response_content_type(request),
    )
    response["WWW-Authenticate"] = 'Bearer realm="intelgraph"'
    return response
