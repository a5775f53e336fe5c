"""Persisted queries: the safelist of operations integrators may run by id (plan ADR-010).

``graphql/safelist.json`` lists each operation's id, document file, SHA-256, ABAC tags and the
minimum role. Clients send ``{"id": "search:v1", "variables": {...}}``; the GraphQL-over-HTTP
``documentId`` key and Apollo's ``extensions.persistedQuery.sha256Hash`` are accepted too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class PersistedOperation:
    id: str
    document: str
    hash: str  # "sha256-<hex>"
    abac: tuple[str, ...]
    roles: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return self.hash.removeprefix("sha256-")


class PersistedQueryError(Exception):
    def __init__(self, message: str, code: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


def document_hash(document: str) -> str:
    return "sha256-" + hashlib.sha256(document.encode()).hexdigest()


@cache
def load(path: str | None = None) -> dict[str, PersistedOperation]:
    """Operations by id and by SHA-256; raises ValueError on a malformed file (safelist_verify reports it)."""
    safelist_path = Path(path or settings.GRAPHQL_SAFELIST)
    data = json.loads(safelist_path.read_text())
    operations = {}
    for entry in data["operations"]:
        document = (safelist_path.parent / entry["file"]).read_text()
        operation = PersistedOperation(
            id=entry["id"],
            document=document,
            hash=entry["hash"],
            abac=tuple(entry.get("abac", ())),
            roles=tuple(entry.get("roles", ())),
        )
        operations[operation.id] = operation
        operations[operation.sha256] = operation
    return operations


def resolve(data: dict) -> PersistedOperation | None:
    """The persisted operation a request names, if it names one; PersistedQueryError when it is wrong."""
    extensions = data.get("extensions") or {}
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    key = data.get("id") or data.get("documentId")
    by_hash = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not key and not by_hash:
        return None
    operations = load()
    operation = operations.get(str(key or by_hash).removeprefix("sha256-").removeprefix("sha256:"))
    if operation is None:
        operation = operations.get(str(key)) if key else None
    if operation is None:
        raise PersistedQueryError(
            f"No persisted operation {str(key or by_hash)[:80]!r}; see graphql/safelist.json for the ids.",
            "PERSISTED_QUERY_NOT_FOUND",
        )
    if by_hash and by_hash != operation.sha256:
        raise PersistedQueryError(
            "The sha256Hash does not match the persisted operation.", "PERSISTED_QUERY_HASH_MISMATCH"
        )
    query = data.get("query")
    if query and document_hash(query) != operation.hash:
        raise PersistedQueryError(
            "The query sent with the id differs from the persisted document.", "PERSISTED_QUERY_HASH_MISMATCH"
        )
    return operation
