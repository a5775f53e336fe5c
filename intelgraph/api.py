"""The GraphQL endpoint: error codes, version header, no tracebacks for callers."""

from __future__ import annotations

import logging
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView, HttpError
from graphql import ExecutionResult, GraphQLError, OperationType, execute, parse, validate

from intelgraph import query_limits
from intelgraph.fast_execution import FastLeafExecutionContext

logger = logging.getLogger("intelgraph.api")

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


def _client_label(request) -> str:
    operation = getattr(request, "persisted_operation", None)
    user = request.user.get_username() if request.user.is_authenticated else "anonymous"
    return f"{operation.id} by {user}" if operation is not None else f"ad-hoc by {user}"


@lru_cache(maxsize=512)
def _fields_touched(schema, query: str) -> tuple[str, ...]:
    """Deprecated fields a document selects (the registry is fixed per process: it comes from the policy files)."""
    from apps.versioning import deprecations

    return tuple(deprecations.fields_touched(schema, query))


def _check_persisted_roles(request, operation) -> None:
    from apps.core.models import ROLE_RANK
    from apps.core.selectors import memberships_for_user

    if not operation.roles:
        return
    if not request.user.is_authenticated:
        raise ApiHttpError("Sign in or send an API token to run this operation.", ErrorCode.UNAUTHENTICATED, 401)
    needed = min(ROLE_RANK[role] for role in operation.roles)
    from apps.access.errors import PurposeError
    from apps.access.services import subject_for_request

    try:  # the request's subject is built once and reused by the resolvers
        roles = [m.role for m in subject_for_request(request).memberships.values()]
    except PurposeError:  # a malformed purpose header is reported by the resolver; read the roles directly
        roles = [m.role for m in memberships_for_user(user=request.user)]
    if not any(ROLE_RANK[role] >= needed for role in roles):
        raise ApiHttpError(
            f"{operation.id} needs the role {min(operation.roles, key=ROLE_RANK.__getitem__)} or higher in a tenant.",
            ErrorCode.FORBIDDEN,
            403,
        )


def _never_awaitable(value) -> bool:
    """Every resolver here is synchronous; graphql-core otherwise inspects each of thousands of values per page."""
    return False


@lru_cache(maxsize=256)
def _prepared(schema, document_text: str, rules: tuple):
    """(parsed document, validation errors) of a persisted document, computed once."""
    document = parse(document_text)
    return document, validate(schema, document, list(rules))


@method_decorator(csrf_exempt, name="dispatch")
class IntelGraphGraphQLView(GraphQLView):
    """graphene-django's view with coded errors and the API version header on every response."""

    validation_rules = query_limits.VALIDATION_RULES

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        # Bound the database time one request may take; a cancelled statement becomes a TIMEOUT error.
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = %s", [query_limits.STATEMENT_TIMEOUT_MS])
        try:
            operation = getattr(request, "persisted_operation", None)
            if operation is not None and query == operation.document:
                return self._execute_persisted(request, operation, variables, operation_name)
            return super().execute_graphql_request(request, data, query, variables, operation_name, show_graphiql)
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")
            except DatabaseError:
                pass  # an aborted transaction: its rollback also undoes the SET

    def _execute_persisted(self, request, operation, variables, operation_name):
        """A safelisted document is parsed and validated once per process (it cannot change: its hash is pinned),
        then only executed; ad-hoc documents take graphene-django's full path."""
        document, errors = _prepared(self.schema.graphql_schema, operation.document, self.validation_rules)
        if errors:
            return ExecutionResult(data=None, errors=errors)
        if any(getattr(d, "operation", None) == OperationType.MUTATION for d in document.definitions):
            return super().execute_graphql_request(request, {}, operation.document, variables, operation_name)
        return execute(
            self.schema.graphql_schema, document, root_value=self.get_root_value(request),
            context_value=self.get_context(request), variable_values=variables, operation_name=operation_name,
            middleware=self.get_middleware(request), is_awaitable=_never_awaitable,
            execution_context_class=FastLeafExecutionContext,
        )  # fmt: skip

    def dispatch(self, request, *args, **kwargs):
        asked = request.headers.get(VERSION_HEADER, "").strip()
        if asked and asked not in SUPPORTED_VERSIONS:
            response = JsonResponse(
                {"errors": [{"message": f"API version {asked[:20]!r} is not supported; supported: "
                             f"{', '.join(SUPPORTED_VERSIONS)}.",
                             "extensions": {"code": "UNSUPPORTED_API_VERSION", "supported": list(SUPPORTED_VERSIONS)}}]},
                status=400,
            )  # fmt: skip
        elif _csrf_rejection(request) is not None:
            response = JsonResponse(
                {"errors": [{"message": "CSRF token missing or incorrect for a session request; send the "
                             "X-CSRFToken header, or use an API token.", "extensions": {"code": ErrorCode.CSRF_FAILED}}]},
                status=403,
            )  # fmt: skip
        else:
            response = super().dispatch(request, *args, **kwargs)
        response["x-ig-api-version"] = API_VERSION
        fields = getattr(request, "deprecated_fields", None)
        if fields:
            from apps.versioning import deprecations

            for name, value in deprecations.headers_for(fields).items():
                response[name] = value
            deprecations.usage_record(fields=fields, client=_client_label(request))
        return response

    def get_graphql_params(self, request, data):
        """Swap in the persisted document when the request names one; enforce the safelist in production."""
        from apps.versioning import safelist

        query, variables, operation_name, _ = super().get_graphql_params(request, data)
        try:
            operation = safelist.resolve(data if isinstance(data, dict) else {})
        except safelist.PersistedQueryError as exc:
            raise ApiHttpError(str(exc), exc.code, exc.status) from None
        request.persisted_operation = operation
        if operation is not None:
            _check_persisted_roles(request, operation)
            query = operation.document
        self._note_deprecations(request, query)
        if operation is not None:
            return operation.document, variables, operation_name, operation.id
        if settings.GRAPHQL_REQUIRE_PERSISTED and query and not request.user.is_staff:
            raise ApiHttpError(
                'Only persisted operations may be run here: send {"id": "search:v1", "variables": {...}} '
                "(ids in graphql/safelist.json).",
                "PERSISTED_QUERY_REQUIRED",
            )
        return query, variables, operation_name, None

    def _note_deprecations(self, request, query) -> None:

        request.deprecated_fields = _fields_touched(self.schema.graphql_schema, query) if query else []

    @staticmethod
    def format_error(error):
        if isinstance(error, ApiHttpError):
            return {"message": error.message, "extensions": {"code": error.code}}
        if isinstance(error, HttpError):  # graphene-django's own request errors: no query, bad JSON, GET mutation
            return {"message": error.message, "extensions": {"code": "BAD_REQUEST"}}
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
        elif isinstance(original, OperationalError) and "statement timeout" in str(original):
            formatted["message"] = "The request took too long and was cancelled; narrow it (filters, smaller pages)."
            formatted["extensions"] = {"code": "TIMEOUT"}
        elif isinstance(original, PermissionDenied):
            formatted["message"] = str(original) or "Not allowed."
            formatted["extensions"] = {"code": ErrorCode.FORBIDDEN}
        else:
            logger.error("unexpected error in GraphQL resolver", exc_info=original)
            formatted["message"] = "Internal error."
            formatted["extensions"] = {"code": ErrorCode.INTERNAL}
        return formatted
