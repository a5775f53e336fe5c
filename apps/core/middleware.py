"""Bearer-token authentication for integrators, beside the admin's session login."""

from django.http import JsonResponse
from django.utils.functional import SimpleLazyObject

from apps.core.services import api_token_authenticate


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
                return _unauthorized("Authorization header must be 'Bearer <token>'.")
            user = api_token_authenticate(raw=raw.strip())
            if user is None:
                return _unauthorized("The API token is unknown, revoked or expired.")
            request.user = SimpleLazyObject(lambda: user)
            request._dont_enforce_csrf_checks = True
            request.auth_method = "token"
        return self.get_response(request)


def _unauthorized(message: str) -> JsonResponse:
    response = JsonResponse({"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="intelgraph"'
    return response
