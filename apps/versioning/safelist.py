"""Persisted queries: the safelist of operations integrators may run (plan ADR-010).

``graphql/safelist.json`` lists each operation's id, document file, SHA-256 of the file, ABAC tags and the
minimum role. A request names a safelisted operation in any of the ways common clients do, unchanged:

- ``{"id": "search:v1"}`` or GraphQL-over-HTTP's ``{"documentId": "sha256:<hex>"}`` (an id or a hash);
- Apollo's automatic persisted queries, ``extensions.persistedQuery.sha256Hash``: the SHA-256 of the document
  as the client prints it. Apollo Client prints the parsed document and its cache adds ``__typename`` to every
  selection set, so each operation is known by the hash of its file, of its printed form, and of its printed
  form with ``__typename`` added; a client printing differently sends its full query on the retry, which is
  matched by shape and remembered (``learn``);
- a full query whose shape (printed, ``__typename`` selections left out) is a safelisted document's: it runs as
  that operation, so gql's persisted-query form and GraphiQL work too.

Whatever the client sent, the server runs the safelisted document's shape: at most ``__typename`` selections
(which read no data) differ, and they are kept so that client caches get the type names they asked for.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from django.conf import settings
from graphql import (
    FieldNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from graphql.language.visitor import REMOVE

MAX_LEARNED = 1_000  # hashes of client-printed safelisted documents kept per process


@dataclass(frozen=True)
class PersistedOperation:
    id: str
    document: str
    hash: str  # "sha256-<hex>" of the file's bytes
    abac: tuple[str, ...]
    roles: tuple[str, ...]
    name: str = ""  # the operation's name in the document (Apollo's manifests key on it)
    kind: str = "query"

    @property
    def sha256(self) -> str:
        return self.hash.removeprefix("sha256-")


@dataclass(frozen=True)
class Match:
    """A request's persisted operation and the document text to run (the file's, or the client's equivalent)."""

    operation: PersistedOperation
    document: str


class PersistedQueryError(Exception):
    def __init__(self, message: str, code: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


def document_hash(document: str) -> str:
    return "sha256-" + _sha256(document)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- document shapes


class _StripTypename(Visitor):
    def enter_field(self, node, *args):
        return REMOVE if node.name.value == "__typename" and not node.alias else None


_TYPENAME = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())


class _AddTypename(Visitor):
    """Apollo Client's addTypenameToDocument: every selection set but an operation's own, unless it has one."""

    def enter_selection_set(self, node, key, parent, path, ancestors):
        if isinstance(parent, OperationDefinitionNode) or not node.selections:
            return None
        if any(isinstance(s, FieldNode) and s.name.value.startswith("__") for s in node.selections):
            return None
        if isinstance(parent, FieldNode) and any(d.name.value == "export" for d in parent.directives or ()):
            return None
        return SelectionSetNode(selections=(*node.selections, _TYPENAME))


def shape_of(document) -> str:
    """The document's shape: graphql-core's printed form without ``__typename`` selections."""
    return print_ast(visit(document, _StripTypename()))


@lru_cache(maxsize=1024)
def shape_of_text(text: str) -> str | None:
    """The shape of a document's text; None when it does not parse (the caller reports syntax errors)."""
    try:
        return shape_of(parse(text, max_tokens=settings.GRAPHQL_MAX_TOKENS))
    except GraphQLError:
        return None


def printed_forms(document_text: str) -> dict[str, str]:
    """The texts a client may send for a document, by SHA-256: the file, printed, printed with ``__typename``."""
    parsed = parse(document_text)
    forms = [document_text, print_ast(parsed), print_ast(visit(parsed, _AddTypename()))]
    return {_sha256(text): text for text in forms}


# --------------------------------------------------------------------------- the safelist


@dataclass
class Safelist:
    operations: dict[str, PersistedOperation]  # by id
    by_hash: dict[str, Match]  # SHA-256 hex of a known printed form -> what to run
    by_shape: dict[str, PersistedOperation]
    learned: OrderedDict = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find_hash(self, sha: str) -> Match | None:
        match = self.by_hash.get(sha)
        if match is None:
            with self.lock:
                match = self.learned.get(sha)
                if match is not None:
                    self.learned.move_to_end(sha)
        return match

    def learn(self, sha: str, match: Match) -> None:
        """Remember the hash of a client's printing of a safelisted document (bounded, per process)."""
        with self.lock:
            self.learned[sha] = match
            self.learned.move_to_end(sha)
            while len(self.learned) > MAX_LEARNED:
                self.learned.popitem(last=False)


@cache
def index(path: str | None = None) -> Safelist:
    """The safelist, read once per process; raises ValueError on a malformed file (safelist_verify reports it)."""
    safelist_path = Path(path or settings.GRAPHQL_SAFELIST)
    data = json.loads(safelist_path.read_text())
    operations, by_hash, by_shape = {}, {}, {}
    for entry in data["operations"]:
        document = (safelist_path.parent / entry["file"]).read_text()
        parsed = parse(document)
        definition = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
        operation = PersistedOperation(
            id=entry["id"],
            document=document,
            hash=entry["hash"],
            abac=tuple(entry.get("abac", ())),
            roles=tuple(entry.get("roles", ())),
            name=definition.name.value if definition.name else "",
            kind=definition.operation.value,
        )
        operations[operation.id] = operation
        by_hash[operation.sha256] = Match(operation, document)
        for sha, text in printed_forms(document).items():
            by_hash.setdefault(sha, Match(operation, text))
        by_shape[shape_of(parsed)] = operation
    return Safelist(operations=operations, by_hash=by_hash, by_shape=by_shape)


def load(path: str | None = None) -> dict[str, PersistedOperation]:
    """Operations by id and by the SHA-256 of their file."""
    operations = index(path).operations
    return {**operations, **{op.sha256: op for op in operations.values()}}


def operations(path: str | None = None) -> list[PersistedOperation]:
    """Each safelisted operation once, in the file's order."""
    return list(index(path).operations.values())


def by_shape(query: str) -> Match | None:
    """The safelisted operation a full query is equivalent to (same shape), if any."""
    shape = shape_of_text(query)
    operation = index().by_shape.get(shape) if shape is not None else None
    return Match(operation, query) if operation is not None else None


def _key_hash(key: str) -> str | None:
    """The hex digest in a documentId or sha256Hash ("sha256:<hex>", "sha256-<hex>" or bare hex)."""
    for prefix in ("sha256:", "sha256-"):
        key = key.removeprefix(prefix)
    return key.lower() if len(key) == 64 and all(c in "0123456789abcdefABCDEF" for c in key) else None


def resolve(data: dict) -> Match | None:
    """The persisted operation a request names (by id, documentId, hash or shape), or None for an ad-hoc one.

    Raises PersistedQueryError when the request names one that does not exist or sends a query that is not it.
    A full query is matched by shape only when it names no operation: ad-hoc documents stay ad-hoc otherwise.
    """
    safelist = index()
    extensions = data.get("extensions") or {}
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    key = data.get("id") or data.get("documentId")
    by_hash = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    query = data.get("query")
    if by_hash is not None and not isinstance(by_hash, str):
        raise PersistedQueryError("extensions.persistedQuery.sha256Hash must be a string.", "BAD_REQUEST")
    if not key and not by_hash:
        return by_shape(query) if query else None
    named = None
    if key:
        named = safelist.operations.get(key)
        key_sha = _key_hash(key)
        if named is None and key_sha:
            found = safelist.find_hash(key_sha)
            named = found.operation if found else None
    sha = _key_hash(by_hash) if by_hash else None
    if by_hash and sha is None:
        raise PersistedQueryError("extensions.persistedQuery.sha256Hash must be 64 hex digits.", "BAD_REQUEST")
    if query:
        return _with_query(safelist, query, named=named, key=key, sha=sha)
    if key and named is None:
        raise PersistedQueryError(
            f"No persisted operation {str(key)[:80]!r}; the ids are in /graphql/persisted-queries.json.",
            "PERSISTED_QUERY_NOT_FOUND",
        )
    if sha:
        match = safelist.find_hash(sha)
        if match is None:  # Apollo's link answers this by sending the full query with the hash
            raise PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        if named is not None and match.operation.id != named.id:
            raise PersistedQueryError(
                "The sha256Hash names another persisted operation than the id.", "PERSISTED_QUERY_HASH_MISMATCH"
            )
        return match
    return Match(named, named.document)


def _with_query(safelist: Safelist, query: str, *, named, key, sha) -> Match:
    """A full query sent with an id or hash: it runs only as the safelisted operation it is equivalent to."""
    match = by_shape(query)
    if sha and sha != _sha256(query):
        known = safelist.find_hash(sha)
        if known is None or match is None or match.operation.id != known.operation.id:
            raise PersistedQueryError(
                "The sha256Hash is neither the query's SHA-256 nor a persisted operation's.",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
    if key and named is None and match is None:
        raise PersistedQueryError(
            f"No persisted operation {str(key)[:80]!r}; the ids are in /graphql/persisted-queries.json.",
            "PERSISTED_QUERY_NOT_FOUND",
        )
    if match is None or (named is not None and match.operation.id != named.id):
        raise PersistedQueryError(
            "The query sent is not the persisted operation it names (only __typename selections may differ).",
            "PERSISTED_QUERY_HASH_MISMATCH",
        )
    if sha == _sha256(query):
        safelist.learn(sha, match)
    return match


# --------------------------------------------------------------------------- manifests


def apollo_body(operation: PersistedOperation) -> str:
    """The document as Apollo Client sends it: printed, with ``__typename`` in every selection set."""
    return print_ast(visit(parse(operation.document), _AddTypename()))


def apollo_manifest() -> dict:
    """Apollo's persisted query manifest (format apollo-persisted-query-manifest, version 1), as Apollo's
    generator writes it from a client's documents: the body with ``__typename`` added, the id its SHA-256.
    ``@apollo/persisted-query-lists`` maps each operation name to its id."""
    entries = []
    for op in operations():
        body = apollo_body(op)
        entries.append({"id": _sha256(body), "name": op.name, "type": op.kind, "body": body})
    return {"format": "apollo-persisted-query-manifest", "version": 1, "operations": entries}


def documents_manifest() -> dict[str, str]:
    """GraphQL-over-HTTP persisted documents: ``{"sha256:<hex>": document}`` (as GraphQL Codegen writes it)."""
    return {f"sha256:{op.sha256}": op.document for op in operations()}
