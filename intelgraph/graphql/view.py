"""The GraphQL endpoint (top layer, beside the URLs): persisted operations, limits, deadline, version and
deprecation headers, errors without tracebacks. Error types are ``intelgraph.graphql.errors``."""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, OperationalError, connection, transaction
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.utils.cache import patch_vary_headers
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from graphene_django.constants import MUTATION_ERRORS_FLAG
from graphene_django.settings import graphene_settings
from graphene_django.views import GraphQLView, HttpError
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    print_schema,
    validate,
)

from apps.access import services as access
from apps.access.errors import PurposeError
from apps.versioning import deprecations, safelist
from intelgraph.graphql import cost as query_cost
from intelgraph.graphql import input as graphql_input
from intelgraph.graphql import limits as query_limits
from intelgraph.graphql.deadline import Deadline, DeadlineExecutionContext, RequestTimeout
from intelgraph.graphql.errors import (
    API_VERSION,
    SUPPORTED_VERSIONS,
    VERSION_HEADER,
    ApiHttpError,
    ErrorCode,
    response_content_type,
)
from intelgraph.graphql.execution import FastLeafExecutionContext

logger = logging.getLogger("intelgraph.graphql.view")


def _csrf_rejection(request):
    """CSRF protects cookie sessions only: anonymous calls and bearer-token calls carry no ambient credential."""
    if getattr(request, "auth_method", None) == "token" or not request.user.is_authenticated:
        return None
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})


# What a response may be cached by: the representation (Accept), the caller (Authorization, Cookie) and the
# headers that change the answer (API version, declared purpose).
VARY = ("Accept", "Authorization", "Cookie", VERSION_HEADER, access.PURPOSE_HEADER)
PUBLIC_MAX_AGE = 300  # seconds a shared cache may keep a public read (GET, anonymous, no error)
PUBLIC_FIELDS = frozenset({"apiVersion", "__typename"})  # what anyone may ask, persisted or not
# graphql-core's messages when coercing variables' values (not validation of the document)
_BAD_VARIABLE = re.compile(
    r"^Variable '\$\w+' (got invalid value|of required type .* was not provided|of non-null type .* must not be null)"
)


@lru_cache(maxsize=512)
def _fields_touched(schema, query: str, operation_name: str | None) -> tuple[str, ...]:
    """Deprecated fields the operation that runs selects (the registry is fixed per process: policy files)."""
    return tuple(deprecations.fields_touched(schema, query, operation_name))


def _only_public_fields(document) -> bool:
    """Whether a document asks only what anyone may ask (``{ apiVersion }``): queries, no fragments, no arguments."""
    if document is None or not document.definitions:
        return False
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode) or definition.operation != OperationType.QUERY:
            return False
        for selection in definition.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.name.value not in PUBLIC_FIELDS:
                return False
            if selection.arguments or selection.directives or selection.selection_set:
                return False
    return True


def _may_run_adhoc(request) -> bool:
    """Ad-hoc operations where only persisted ones run: a token issued with the developer scope, nobody else."""
    token = getattr(request, "api_token", None)
    return token is not None and token.developer


def _collapse_repeated(errors: list) -> list:
    """One FIELD_PAST_EOL error per field and path (list positions aside), with how often it occurred."""
    kept, seen = [], {}
    for error in errors:
        extensions = getattr(error, "extensions", None) or {}
        if extensions.get("code") != "FIELD_PAST_EOL":
            kept.append(error)
            continue
        key = (error.message, tuple(p for p in (error.path or ()) if not isinstance(p, int)))
        if key in seen:
            seen[key].extensions["occurrences"] += 1
            continue
        extensions = {**extensions, "occurrences": 1}
        error = GraphQLError(error.message, error.nodes, error.source, error.positions, error.path, None, extensions)
        seen[key] = error
        kept.append(error)
    return kept


def _check_persisted_roles(request, operation) -> None:
    """The operation's safelist roles and tags, decided by the policy (policies/operations.rego)."""
    if not operation.roles:
        return
    if not request.user.is_authenticated:
        raise ApiHttpError("Sign in or send an API token to run this operation.", ErrorCode.UNAUTHENTICATED, 401)
    try:  # the request's subject is built once and reused by the resolvers
        subject = access.subject_for_request(request)
    except PurposeError:  # a malformed purpose header is reported by the resolver; decide without the purpose
        subject = access.subject_for(user=request.user)
    check = access.operation_allowed(subject=subject, operation=operation)
    if not check["allowed"]:
        needs = check.get("needs", {})
        why = f"the role {needs['role']} or higher in a tenant" if "role" in needs else "a policy that allows it"
        raise ApiHttpError(f"{operation.id} needs {why}.", ErrorCode.FORBIDDEN, 403)


def _never_awaitable(value) -> bool:
    """Every resolver here is synchronous; graphql-core otherwise inspects each of thousands of values per page."""
    return False


def _parse(document_text: str, request=None):
    """The document, or a coded syntax error. At most GRAPHQL_MAX_TOKENS tokens are read: a 10,000-alias
    document is refused after its first tokens, before parsing and validating it would cost seconds.
    With a request, the answer is kept on it: the deprecation check and the execution parse once."""
    kept = getattr(request, "graphql_parsed", None)
    if kept is not None and kept[0] is document_text:
        return kept[1]
    parsed = _parse_bounded(document_text)
    if request is not None:
        request.graphql_parsed = (document_text, parsed)
    return parsed


def _parse_bounded(document_text: str):
    max_tokens = settings.GRAPHQL_MAX_TOKENS
    try:
        return parse(document_text, max_tokens=max_tokens), None
    except GraphQLError as error:
        if "Document contains more than" in error.message:
            return None, GraphQLError(
                f"The document has more than {max_tokens} tokens; split it into several requests.",
                extensions={"code": ErrorCode.QUERY_TOO_LARGE, "maxTokens": max_tokens},
            )
        return None, error


@lru_cache(maxsize=256)
def _prepared(schema, document_text: str, rules: tuple):
    """(parsed document, validation errors) of a persisted document, computed once."""
    document, error = _parse(document_text)
    if error is not None:
        return None, [error]
    return document, validate(schema, document, list(rules))


@method_decorator(csrf_exempt, name="dispatch")
class IntelGraphGraphQLView(GraphQLView):
    """graphene-django's view with coded errors and the API version header on every response."""

    validation_rules = query_limits.VALIDATION_RULES

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        """Parse (bounded), validate (shape, then cost), refuse NUL characters, then execute within the request's
        deadline. Persisted documents are parsed and validated once per process (their hash is pinned)."""
        if not query:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseBadRequest("Must provide query string."))
        schema = self.schema.graphql_schema
        operation = getattr(request, "persisted_operation", None)
        if operation is not None and query == request.persisted_document:
            document, errors = _prepared(schema, query, self.validation_rules)
        else:
            document, parse_error = _parse(query, request)
            errors = [parse_error] if parse_error else None
            if document is not None:
                errors = validate(schema, document, self.validation_rules, graphene_settings.MAX_VALIDATION_ERRORS)
        if errors:
            return ExecutionResult(data=None, errors=errors)
        operation_ast = get_operation_ast(document, operation_name)
        if (
            request.method.lower() == "get"
            and operation_ast is not None
            and operation_ast.operation != OperationType.QUERY
        ):
            if show_graphiql:
                return None
            raise ApiHttpError(
                f"A {operation_ast.operation.value} cannot be sent by GET (GET is for queries); send it by POST.",
                ErrorCode.METHOD_NOT_ALLOWED,
                405,
                headers={"Allow": "POST"},
            )
        request.deprecated_fields = list(_fields_touched(schema, query, operation_name))
        request.graphql_public_read = _only_public_fields(document) or (operation is not None and not operation.roles)
        errors = query_cost.check(schema, document, variables)
        if not errors:
            nul = graphql_input.nul_character_error(schema, document, variables, operation_name)
            errors = [nul] if nul is not None else []
        if errors:
            return ExecutionResult(data=None, errors=errors)
        return self._execute_within_deadline(
            request, document, operation_ast, variables, operation_name, persisted=operation is not None
        )

    def _execute_within_deadline(self, request, document, operation_ast, variables, operation_name, *, persisted):
        # Each statement is bounded (STATEMENT_TIMEOUT_MS), and all of them by the request's deadline.
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = %s", [query_limits.STATEMENT_TIMEOUT_MS])
        mutation = operation_ast is not None and operation_ast.operation == OperationType.MUTATION
        try:
            with connection.execute_wrapper(request.graphql_deadline):
                result = self._execute(
                    request, document, variables, operation_name, fast=persisted and not mutation, mutation=mutation
                )
            request.graphql_executed = True
            if result.errors:
                result.errors = _collapse_repeated(result.errors)
            request.graphql_failed = bool(result.errors)
            return result
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")
            except DatabaseError:
                pass  # an aborted transaction: its rollback also undoes the SET

    def _execute(self, request, document, variables, operation_name, *, fast, mutation):
        options = {
            "root_value": self.get_root_value(request),
            "context_value": self.get_context(request),
            "variable_values": variables,
            "operation_name": operation_name,
            "middleware": self.get_middleware(request),
        }
        if fast:  # safelisted queries: their resolvers are known to be synchronous
            options.update(is_awaitable=_never_awaitable, execution_context_class=FastLeafExecutionContext)
        else:
            options.update(execution_context_class=self.execution_context_class or DeadlineExecutionContext)
        schema = self.schema.graphql_schema
        try:
            if mutation and graphene_settings.ATOMIC_MUTATIONS:
                with transaction.atomic():
                    result = execute(schema, document, **options)
                    timed_out = any(isinstance(e.original_error, RequestTimeout) for e in result.errors or ())
                    if timed_out or getattr(request, MUTATION_ERRORS_FLAG, False) is True:
                        transaction.set_rollback(True)  # a mutation is whole or not at all
                return result
            return execute(schema, document, **options)
        except Exception as exc:  # graphene-django's contract: an error result, formatted below
            return ExecutionResult(errors=[exc])

    def dispatch(self, request, *args, **kwargs):
        response = self._dispatch(request, *args, **kwargs)
        if "json" in response.get("Content-Type", ""):  # GraphiQL's page stays HTML
            response["Content-Type"] = response_content_type(request)
            self._cache_headers(request, response)
        response["x-ig-api-version"] = API_VERSION
        fields = getattr(request, "deprecated_fields", None)
        if fields:
            for name, value in deprecations.headers_for(fields).items():
                response[name] = value
            if getattr(request, "graphql_executed", False):  # counted only when it ran, for an authenticated client
                operation = getattr(request, "persisted_operation", None)
                deprecations.usage_record(
                    fields=fields,
                    user=request.user,
                    token=getattr(request, "api_token", None),
                    operation=operation.id if operation is not None else "ad-hoc",
                )
        return response

    @staticmethod
    def _cache_headers(request, response) -> None:
        """Shared caches may keep an anonymous GET of a public read that succeeded; nothing else is stored."""
        patch_vary_headers(response, VARY)
        public = (
            request.method == "GET"
            and response.status_code == 200
            and getattr(request, "graphql_public_read", False)
            and getattr(request, "graphql_executed", False)
            and not getattr(request, "graphql_failed", True)
            and not request.user.is_authenticated
            and not request.headers.get("Authorization")
        )
        response["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}" if public else "no-store"
        if public:  # graphene's dispatch sets a CSRF cookie; a shared cache must not hand one out
            request.META["CSRF_COOKIE_NEEDS_UPDATE"] = False
            response.cookies.pop(settings.CSRF_COOKIE_NAME, None)

    def render_graphiql(self, request, **data):
        get_token(request)  # GraphiQL posts with the session: give the page its CSRF cookie
        return super().render_graphiql(request, **data)

    def _dispatch(self, request, *args, **kwargs):
        # The request's wall-clock budget starts on arrival: parsing and validation count too.
        request.graphql_deadline = Deadline(settings.GRAPHQL_REQUEST_TIMEOUT_SECONDS, query_limits.STATEMENT_TIMEOUT_MS)
        asked = request.headers.get(VERSION_HEADER, "").strip()
        if asked and asked not in SUPPORTED_VERSIONS:
            response = JsonResponse(
                {
                    "errors": [
                        {
                            "message": f"API version {asked[:20]!r} is not supported; supported: "
                            f"{', '.join(SUPPORTED_VERSIONS)}.",
                            "extensions": {"code": "UNSUPPORTED_API_VERSION", "supported": list(SUPPORTED_VERSIONS)},
                        }
                    ]
                },
                status=400,
            )
        elif _csrf_rejection(request) is not None:
            response = JsonResponse(
                {
                    "errors": [
                        {
                            "message": "CSRF token missing or incorrect for a session request; send the "
                            "X-CSRFToken header, or use an API token.",
                            "extensions": {"code": ErrorCode.CSRF_FAILED},
                        }
                    ]
                },
                status=403,
            )
        else:
            response = super().dispatch(request, *args, **kwargs)
        return response

    def parse_body(self, request):
        """The body, strictly: UTF-8, standard JSON within MAX_JSON_DEPTH, an object (graphql_input). A GET
        carries the request in its URL parameters (GraphQL over HTTP), whatever its Content-Type says."""
        try:
            if request.method == "GET":
                return graphql_input.url_parameters(request.GET)
            return graphql_input.request_body(request, self.get_content_type(request))
        except graphql_input.MalformedRequest as exc:
            raise ApiHttpError(str(exc), exc.code, exc.status) from None

    def get_graphql_params(self, request, data):
        """Swap in the persisted document when the request names one; enforce the safelist in production."""
        try:
            query, variables, operation_name = graphql_input.envelope(request.GET, data)
        except graphql_input.MalformedRequest as exc:
            raise ApiHttpError(str(exc), ErrorCode.BAD_REQUEST, exc.status) from None
        envelope = dict(data) if isinstance(data, dict) else {}
        if query and not envelope.get("query"):
            envelope["query"] = query  # a query sent in the URL of a POST
        try:
            match = safelist.resolve(envelope)
        except safelist.PersistedQueryError as exc:
            raise ApiHttpError(str(exc), exc.code, exc.status) from None
        request.persisted_operation = match.operation if match is not None else None
        if match is not None:
            _check_persisted_roles(request, match.operation)
            request.persisted_document = match.document
            return match.document, variables, operation_name, match.operation.id
        if (
            settings.GRAPHQL_REQUIRE_PERSISTED
            and query
            and not _may_run_adhoc(request)
            and not _only_public_fields(_parse(query, request)[0])
        ):
            raise ApiHttpError(
                'Only persisted operations may be run here: send {"id": "search:v1", "variables": {...}}, Apollo\'s '
                "persisted-query hash, or a safelisted document (list: /graphql/persisted-queries.json). Ad-hoc "
                "operations need an API token with the developer scope.",
                ErrorCode.PERSISTED_QUERY_REQUIRED,
            )
        return query, variables, operation_name, None

    @staticmethod
    def format_error(error):
        if isinstance(error, ApiHttpError):
            return {"message": error.message, "extensions": {"code": error.code}}
        if isinstance(error, HttpError):  # graphene-django's own request errors: no query, bad JSON, GET mutation
            return {"message": error.message, "extensions": {"code": ErrorCode.BAD_REQUEST}}
        if not isinstance(error, GraphQLError):
            logger.error("GraphQL error outside execution: %r", error)
            return {"message": "Internal error.", "extensions": {"code": ErrorCode.INTERNAL}}
        formatted = error.formatted
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            # graphql-core's own parse/validation errors, or an ApiError raised on purpose.
            extensions = dict(formatted.get("extensions") or {})
            # a variable's value that does not fit its type is the caller's input, as Apollo Server codes it
            extensions.setdefault(
                "code", ErrorCode.BAD_USER_INPUT if _BAD_VARIABLE.match(error.message) else "GRAPHQL_VALIDATION_FAILED"
            )
            formatted["extensions"] = extensions
        elif isinstance(original, ValidationError):
            formatted["message"] = "; ".join(original.messages)
            formatted["extensions"] = {"code": ErrorCode.BAD_USER_INPUT}
        elif isinstance(original, RequestTimeout):
            formatted["message"] = (
                f"The request ran over its {original.budget_seconds:g} s budget and was cancelled; narrow it "
                "(filters, smaller pages, fewer hops) or split it."
            )
            formatted["extensions"] = {"code": ErrorCode.TIMEOUT, "budgetSeconds": original.budget_seconds}
        elif isinstance(original, OperationalError) and "statement timeout" in str(original):
            formatted["message"] = "The request took too long and was cancelled; narrow it (filters, smaller pages)."
            formatted["extensions"] = {"code": ErrorCode.TIMEOUT}
        elif isinstance(original, PermissionDenied):
            formatted["message"] = str(original) or "Not allowed."
            formatted["extensions"] = {"code": ErrorCode.FORBIDDEN}
        else:
            logger.error("unexpected error in GraphQL resolver", exc_info=original)
            formatted["message"] = "Internal error."
            formatted["extensions"] = {"code": ErrorCode.INTERNAL}
        return formatted


# --------------------------------------------------------------------------- what integrators read


# The schema and the safelist are fixed per process: each published text is made once.
PUBLISHED = {
    "sdl": lambda: print_schema(graphene_settings.SCHEMA.graphql_schema) + "\n",
    "apollo": lambda: json.dumps(safelist.apollo_manifest(), indent=2),
    "documents": lambda: json.dumps(safelist.documents_manifest(), indent=2),
}


@lru_cache(maxsize=len(PUBLISHED))
def _published_text(name: str) -> str:
    return PUBLISHED[name]()


def _published(name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(_published_text(name), content_type=content_type)
    response["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
    response["x-ig-api-version"] = API_VERSION
    return response


@require_GET
def schema_sdl(request):
    """The live schema in SDL, at a stable URL (what graphql-inspector, codegen and IDEs load)."""
    return _published("sdl", "text/plain; charset=utf-8")


@require_GET
def persisted_queries_manifest(request):
    """Apollo's persisted query manifest, generated from the safelist."""
    return _published("apollo", "application/json")


@require_GET
def persisted_documents_manifest(request):
    """GraphQL-over-HTTP persisted documents, ``{"sha256:<hex>": document}``, generated from the safelist."""
    return _published("documents", "application/json")
