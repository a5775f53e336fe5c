"""Contract checks for the GraphQL API: breaking changes against the committed SDL, and the safelist."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from graphql import (
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    parse,
    print_schema,
    validate,
)

from apps.access import ranks
from apps.access.services import operation_tags
from apps.versioning.deprecations import registry
from apps.versioning.models import DeprecatedFieldUsage
from apps.versioning.safelist import document_hash


@dataclass
class SchemaReport:
    breaking: list[str]
    dangerous: list[str]
    allowed: list[str]

    @property
    def ok(self) -> bool:
        return not self.breaking


def schema_compare(
    *, committed_sdl: str, live: GraphQLSchema, allowed: set[str] | None = None, removable: set[str] | None = None
) -> SchemaReport:
    """Breaking changes from the committed schema to the live one.

    Those recorded as allowed pass, and so does removing a field in ``removable`` (deprecated, past its
    end of life, and unused for the quiet period: see ``removable_fields``).
    """
    old = build_schema(committed_sdl)
    # Compare like with like: graphene's scalar classes differ from graphql-core's built ones.
    live = build_schema(print_schema(live))
    allowed = allowed or set()
    removable = removable or set()
    breaking, accepted = [], []
    for change in find_breaking_changes(old, live):
        removed = change.description.removesuffix(" was removed.")
        ok = change.description in allowed or (change.type.name == "FIELD_REMOVED" and removed in removable)
        (accepted if ok else breaking).append(f"{change.type.name}: {change.description}")
    dangerous = [f"{c.type.name}: {c.description}" for c in find_dangerous_changes(old, live)]
    return SchemaReport(breaking=breaking, dangerous=dangerous, allowed=accepted)


def removable_fields(*, quiet_days: int | None = None, today: dt.date | None = None) -> set[str]:
    """Deprecated fields past their EOL with no recorded use in the last ``quiet_days`` days."""
    today = today or dt.date.today()
    quiet_days = settings.DEPRECATION_QUIET_DAYS if quiet_days is None else quiet_days
    since = today - dt.timedelta(days=quiet_days)
    result = set()
    for field, entry in registry().items():
        past_eol = dt.date.fromisoformat(entry["eol"]) < today
        used = DeprecatedFieldUsage.objects.filter(field=field, day__gte=since, count__gt=0).exists()
        if past_eol and not used:
            result.add(field)
    return result


def allowed_changes() -> set[str]:
    """Breaking changes accepted with a version bump, recorded in graphql/allowed-changes.json."""
    path = Path(settings.GRAPHQL_SAFELIST).parent / "allowed-changes.json"
    if not path.exists():
        return set()
    return {entry["description"] for entry in json.loads(path.read_text()).get("changes", [])}


def safelist_problems(*, live: GraphQLSchema, path: str | None = None) -> list[str]:
    """Every way the safelist disagrees with itself or the live schema; empty when it is sound."""
    safelist_path = Path(path or settings.GRAPHQL_SAFELIST)
    try:
        data = json.loads(safelist_path.read_text())
        entries = data["operations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{safelist_path}: unreadable ({exc})"]
    problems, seen, known_roles = [], set(), ranks.roles()
    for index, entry in enumerate(entries):
        label = entry.get("id") or f"entry {index}"
        if entry.get("id") in seen:
            problems.append(f"{label}: duplicate id")
        seen.add(entry.get("id"))
        for role in entry.get("roles", []):
            if role not in known_roles:
                problems.append(f"{label}: unknown role {role!r}")
        tags = entry.get("abac") or []
        if not tags:
            problems.append(f"{label}: no ABAC tag")
        known = operation_tags()
        problems += [f"{label}: unknown ABAC tag {tag!r}" for tag in tags if tag not in known]
        try:
            document = (safelist_path.parent / entry["file"]).read_text()
        except (OSError, KeyError) as exc:
            problems.append(f"{label}: document not readable ({exc})")
            continue
        if document_hash(document) != entry.get("hash"):
            problems.append(
                f"{label}: hash {entry.get('hash')} does not match {entry['file']} ({document_hash(document)})"
            )
        try:
            errors = validate(live, parse(document))
        except Exception as exc:  # a syntax error in the document
            errors = [exc]
        problems += [f"{label}: invalid against the live schema: {error}" for error in errors]
    return problems
