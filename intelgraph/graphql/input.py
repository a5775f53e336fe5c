"""What a GraphQL request must look like before anything runs: the body, its envelope, and its string inputs.

graphene-django trusts the body more than an open endpoint can: a list as ``query`` reached a cache as an
unhashable key, JSON nested 5,000 levels overflowed the parser's stack, ``NaN`` became a float query. Here the
body is decoded strictly (UTF-8, standard JSON: no NaN or Infinity, at most ``MAX_JSON_DEPTH`` levels) and each
member of the envelope must have its type (``query``, ``operationName``, ``id`` and ``documentId`` strings,
``variables`` and ``extensions`` objects; null means absent). A violation raises ``MalformedRequest``, which
the view answers with HTTP 400 and ``BAD_REQUEST`` (413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``).

PostgreSQL text cannot hold U+0000: a NUL byte sent to it is a DataError deep inside a resolver.
``nul_character_error`` finds one in any string input, after variables are coerced (so a NUL inside a
JSONString filter counts too) and in inline literals, and names where it is; the view refuses the request
with ``BAD_USER_INPUT`` before execution, so no resolver ever sends one.
"""

from __future__ import annotations

import json
import math

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import QueryDict
from graphql import GraphQLError, OperationDefinitionNode, TypeInfo, TypeInfoVisitor, Visitor, visit
from graphql.execution.values import get_variable_values
from graphql.language import FieldNode
from graphql.pyutils import Undefined
from graphql.utilities import value_from_ast

MAX_JSON_DEPTH = 32  # arrays and objects inside each other; real inputs (filters, id lists) need 4 or 5


class MalformedRequest(ValueError):
    """The request is not a well-formed GraphQL request; the message says what is wrong."""

    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST"):
        super().__init__(message)
        self.status = status
        self.code = code


BATCHING_REFUSED = (
    "Batched requests (a JSON array of operations) are not supported: send one operation per request; HTTP "
    "keep-alive or HTTP/2 runs them side by side. Each request has its own cost budget and deadline "
    "(docs/api/limits.md, docs/api/clients.md)."
)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def strict_json(text, what: str):
    """JSON as the standard has it (no NaN, Infinity or overflowing numbers), at most MAX_JSON_DEPTH deep;
    anything else is MalformedRequest (a ValueError) saying what is wrong with ``what``."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise MalformedRequest(f"The {what} is nested too deeply (at most {MAX_JSON_DEPTH} levels).") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise MalformedRequest(f"The {what} is not valid JSON: {str(exc)[:120]}.") from None
    _check_depth(value, what)
    return value


def _check_depth(value, what: str) -> None:
    """Iteratively, so a deep value is refused here rather than by recursion further on."""
    level = [value]
    for _depth in range(MAX_JSON_DEPTH + 1):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return
    raise MalformedRequest(f"The {what} is nested too deeply (at most {MAX_JSON_DEPTH} levels).")


def _body_bytes(request) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        from django.conf import settings

        raise MalformedRequest(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.", status=413
        ) from None


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequest(f"The {what} is not UTF-8 (byte {exc.start}).") from None


def request_body(request, content_type: str) -> dict:
    """The body as a dict of envelope members ({} when the content type carries none, as for GET)."""
    if content_type == "application/graphql":
        return {"query": _text(_body_bytes(request), "request body")}
    if content_type == "application/json":
        data = strict_json(_text(_body_bytes(request), "request body"), "request body")
        if isinstance(data, list):
            raise MalformedRequest(BATCHING_REFUSED, code="BATCHING_NOT_SUPPORTED")
        if not isinstance(data, dict):
            raise MalformedRequest(
                f'The request body must be a JSON object such as {{"query": "...", "variables": {{}}}}, '
                f"not a JSON {_json_type(data)}."
            )
        return data
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _body_bytes(request)  # the size limit, with its coded answer
        try:
            return request.POST
        except (SuspiciousOperation, ValueError) as exc:  # too many fields, a broken multipart body
            raise MalformedRequest(f"The form body cannot be read: {str(exc)[:120]}.") from None
    return {}


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


URL_MEMBERS = ("query", "variables", "operationName", "id", "documentId", "extensions")


def url_parameters(query_params) -> dict:
    """A GET request's envelope from its URL (GraphQL over HTTP): ``variables`` and ``extensions`` are JSON text."""
    data = {}
    for name in URL_MEMBERS:
        values = query_params.getlist(name)
        if len(values) > 1:
            raise MalformedRequest(f"The URL parameter {name} is given {len(values)} times; give it once.")
        if values and values[0] != "":
            data[name] = values[0]
    if "extensions" in data:
        data["extensions"] = strict_json(data["extensions"], "extensions parameter")
    return data


def envelope(query_params, data) -> tuple[str | None, dict | None, str | None]:
    """(query, variables, operationName) from the URL parameters or the body, each of its proper type."""

    def member(name):
        value = query_params.get(name) if name in query_params else None
        return value if value not in (None, "") else data.get(name)

    query, variables, operation_name = member("query"), member("variables"), member("operationName")
    if query is not None and not isinstance(query, str):
        raise MalformedRequest(f"query must be a string (the GraphQL document), not a JSON {_json_type(query)}.")
    if isinstance(variables, str):  # the form and GET encodings send variables as JSON text
        variables = strict_json(variables, "variables parameter") if variables.strip() else None
    if variables is not None and not isinstance(variables, dict):
        raise MalformedRequest(f"variables must be a JSON object of name: value, not a JSON {_json_type(variables)}.")
    if operation_name == "null":  # graphene-django's GraphiQL sends it so
        operation_name = None
    if operation_name is not None and not isinstance(operation_name, str):
        raise MalformedRequest(f"operationName must be a string, not a JSON {_json_type(operation_name)}.")
    if isinstance(data, QueryDict):  # a form body: every member is text
        return query, variables, operation_name
    for name in ("id", "documentId"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise MalformedRequest(
                f"{name} must be a string (a persisted operation id), not a JSON {_json_type(value)}."
            )
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise MalformedRequest(f"extensions must be a JSON object, not a JSON {_json_type(extensions)}.")
    return query, variables, operation_name


# --------------------------------------------------------------------------- NUL characters in input values


def _nul_path(value, path: str = "") -> str | None:
    """Where in the value (a.b.0) a string or object key holds U+0000; None if nowhere."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and "\x00" in key:
                    return child_path.replace("\x00", "\\u0000")
                stack.append((child, child_path))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(item))
    return None


def _error(message: str, **extensions) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", **extensions})


def _operation(document, operation_name):
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


def nul_character_error(schema, document, variables: dict | None, operation_name: str | None) -> GraphQLError | None:
    """A BAD_USER_INPUT error naming the variable or argument whose value holds a NUL character, if one does.

    Variables are checked as coerced (defaults applied, JSONString parsed); when they do not coerce, execution
    reports that itself. Then every argument written in the document, with the variables substituted.
    """
    operation = _operation(document, operation_name)
    coerced = {}
    if operation is not None:
        values = get_variable_values(schema, operation.variable_definitions or (), variables or {})
        if isinstance(values, dict):
            coerced = values
            for name, value in values.items():
                where = _nul_path(value)
                if where is not None:
                    path = f"{name}.{where}" if where else name
                    return _error(
                        f"Variable ${name} holds a NUL character (U+0000) at {path}; text may not contain one.",
                        variable=path,
                    )
    found: list[GraphQLError] = []
    info = TypeInfo(schema)

    class Arguments(Visitor):
        def enter_argument(self, node, key, parent, path, ancestors):
            argument = info.get_argument()
            if argument is None or found:
                return
            value = value_from_ast(node.value, argument.type, coerced)
            if value is Undefined:
                return
            where = _nul_path(value)
            if where is None:
                return
            field = next((a for a in reversed(ancestors) if isinstance(a, FieldNode)), None)
            owner = (field.alias or field.name).value if field is not None else "?"
            at = ".".join(p for p in (owner, node.name.value, where) if p)
            found.append(
                GraphQLError(
                    f"Argument {node.name.value} of {owner} holds a NUL character (U+0000) at {at}; "
                    "text may not contain one.",
                    node,
                    extensions={"code": "BAD_USER_INPUT", "argument": at},
                )
            )

    visit(document, TypeInfoVisitor(info, Arguments()))
    return found[0] if found else None
