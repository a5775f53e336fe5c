"""Deprecated API fields: what they are, when they end, what replaces them, and who still uses them.

The dates live in the policy (``policies/schema.rego``, data ``deprecations``) so the guard that
denies a field after its end of life and the headers that announce it read the same source.
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from graphql import GraphQLSchema, TypeInfo, TypeInfoVisitor, Visitor, parse, visit

from apps.access import bundle as policy
from apps.versioning.models import DeprecatedFieldUsage


def registry() -> dict[str, dict]:
    """Deprecated fields from the policy bundle: {"Type.field": {"eol": "YYYY-MM-DD", "replacement": ...}}."""
    return policy.current_bundle().data.get("deprecations") or {}


def reason(field: str) -> str:
    entry = registry()[field]
    return f"Use {entry['replacement']} instead; {field} ends on {entry['eol']} (EOL)."


def fields_touched(schema: GraphQLSchema, document: str) -> list[str]:
    """The deprecated "Type.field"s an operation selects."""
    deprecated = registry()
    if not deprecated:
        return []
    try:
        ast = parse(document)
    except Exception:  # graphql-core reports syntax errors itself
        return []
    info = TypeInfo(schema)
    found: set[str] = set()

    class Collect(Visitor):
        def enter_field(self, node, *args):
            parent = info.get_parent_type()
            if parent is not None:
                name = f"{parent.name}.{node.name.value}"
                if name in deprecated:
                    found.add(name)

    visit(ast, TypeInfoVisitor(info, Collect()))
    return sorted(found)


def denied_after_eol(fields: list[str], *, today: dt.date | None = None) -> dict[str, dict]:
    """The intelgraph.schema policy's verdict: fields past their end of life, with their replacement."""
    if not fields:
        return {}
    today = today or timezone.now().date()
    return policy.evaluate("schema", {"fields": fields, "today": today.isoformat()}) or {}


def headers_for(fields: list[str]) -> dict[str, str]:
    """x-ig-deprecations (plan) plus RFC 8594 Sunset and the Deprecation header for the earliest EOL."""
    if not fields:
        return {}
    entries = registry()
    eols = sorted(dt.date.fromisoformat(entries[f]["eol"]) for f in fields)
    sunset = dt.datetime.combine(eols[0], dt.time(0, 0), tzinfo=dt.UTC)
    return {
        "x-ig-deprecations": ", ".join(f"{f} (EOL {entries[f]['eol']})" for f in fields),
        "Deprecation": "true",
        "Sunset": format_datetime(sunset, usegmt=True),
    }


def usage_record(*, fields: list[str], client: str) -> None:
    """Count uses per field, client and day, so a removal can be agreed with the clients still using it."""
    today = timezone.now().date()
    with transaction.atomic():
        for field in fields:
            usage, created = DeprecatedFieldUsage.objects.get_or_create(
                field=field, client=client[:200], day=today, defaults={"count": 1}
            )
            if not created:
                DeprecatedFieldUsage.objects.filter(pk=usage.pk).update(
                    count=F("count") + 1, last_seen_at=timezone.now()
                )
