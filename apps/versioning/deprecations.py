"""Deprecated API fields: what they are, when they end, what replaces them, and who still uses them.

The dates live in the policy (``policies/schema.rego``, data ``deprecations``) so the guard that
denies a field after its end of life and the headers that announce it read the same source.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from email.utils import format_datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_operation_ast,
    parse,
    visit,
)

from apps.access import bundle as policy
from apps.audit import services as audit
from apps.versioning.models import DeprecatedFieldUsage


def registry() -> dict[str, dict]:
    """Deprecated fields from the policy bundle: {"Type.field": {"deprecated", "eol", "replacement"}}."""
    return policy.current_bundle().data.get("deprecations") or {}


def reason(field: str) -> str:
    entry = registry()[field]
    return f"Use {entry['replacement']} instead; {field} ends on {entry['eol']} (EOL)."


def _executed_part(document: DocumentNode, operation_name: str | None) -> DocumentNode | None:
    """The operation that runs and the fragments it reaches: what a request actually selects."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    reached: dict[str, FragmentDefinitionNode] = {}
    pending = [operation]

    class Spreads(Visitor):
        def enter_fragment_spread(self, node: FragmentSpreadNode, *args):
            name = node.name.value
            if name in fragments and name not in reached:
                reached[name] = fragments[name]
                pending.append(fragments[name])

    while pending:
        visit(pending.pop(), Spreads())
    return DocumentNode(definitions=(operation, *reached.values()))


def fields_touched(schema: GraphQLSchema, document, operation_name: str | None = None) -> list[str]:
    """The deprecated "Type.field"s the operation that runs selects (not those of other operations in the
    document). ``document`` is a parsed document or its text."""
    deprecated = registry()
    if not deprecated:
        return []
    if isinstance(document, str):
        try:
            document = parse(document)
        except Exception:  # graphql-core reports syntax errors itself
            return []
    executed = _executed_part(document, operation_name)
    if executed is None:
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

    visit(executed, TypeInfoVisitor(info, Collect()))
    return sorted(found)


def denied_after_eol(fields: list[str], *, today: dt.date | None = None) -> dict[str, dict]:
    """The intelgraph.schema policy's verdict: fields past their end of life, with their replacement."""
    if not fields:
        return {}
    today = today or timezone.now().date()
    return policy.evaluate("schema", {"fields": fields, "today": today.isoformat()}) or {}


def _midnight(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(0, 0), tzinfo=dt.UTC)


def headers_for(fields: list[str]) -> dict[str, str]:
    """x-ig-deprecations (plan), RFC 9745 Deprecation (``@<epoch>`` of the earliest deprecation) and RFC 8594
    Sunset (the earliest end of life)."""
    if not fields:
        return {}
    entries = registry()
    sunset = min(_midnight(entries[f]["eol"]) for f in fields)
    deprecated = min(_midnight(entries[f].get("deprecated") or entries[f]["eol"]) for f in fields)
    return {
        "x-ig-deprecations": ", ".join(f"{f} (EOL {entries[f]['eol']})" for f in fields),
        "Deprecation": f"@{int(deprecated.timestamp())}",
        "Sunset": format_datetime(sunset, usegmt=True),
    }


def client_of(*, user, token) -> str:
    """How a client is named in the usage table: its token (prefix and name), or the signed-in account."""
    if token is not None:
        return f"token {token.prefix}… ({token.name}) of {user.get_username()}"[:200]
    return f"session of {user.get_username()}"[:200]


def usage_record(*, fields: list[str], user, token=None, operation: str = "") -> None:
    """Count one executed, authenticated operation's use of deprecated fields, per field, client (token or
    session), persisted operation and day, so a removal can be agreed with the clients still using it."""
    if not fields or user is None or not getattr(user, "is_authenticated", False):
        return
    today = timezone.now().date()
    client = client_of(user=user, token=token)
    operation = (operation or "ad-hoc")[:100]
    with transaction.atomic():
        for field in fields:
            usage, created = DeprecatedFieldUsage.objects.get_or_create(
                field=field,
                client=client,
                operation=operation,
                day=today,
                defaults={"count": 1, "user": user, "token": token},
            )
            if not created:
                DeprecatedFieldUsage.objects.filter(pk=usage.pk).update(
                    count=F("count") + 1, last_seen_at=timezone.now()
                )


def timeline_text(fields: dict[str, list[DeprecatedFieldUsage]], *, username: str) -> str:
    entries = registry()
    lines = [
        f"Hello {username},",
        "",
        "IntelGraph's API is retiring fields your clients still use. After its end of life (EOL) a field",
        "answers with the error FIELD_PAST_EOL; please move to the replacement before then.",
        "",
    ]
    for field, rows in sorted(fields.items()):
        entry = entries.get(field, {})
        clients = sorted({f"{row.client}, operation {row.operation}" for row in rows})
        last_seen = max(row.last_seen_at for row in rows)
        lines += [
            f"- {field}: deprecated {entry.get('deprecated', '?')}, EOL {entry.get('eol', '?')}, "
            f"use {entry.get('replacement', '?')} instead.",
            f"  Last used {last_seen:%Y-%m-%d %H:%M} UTC by: {'; '.join(clients)}.",
        ]
    lines += ["", "The deprecation policy: docs/api/versioning.md. Changes: docs/api/CHANGELOG.md."]
    return "\n".join(lines)


def notify_clients(*, usages, actor) -> dict:
    """E-mail each owner of the selected usages (the token's user, or the session's) the deprecation timeline
    of the fields they use, once per owner; audited. Returns {"sent": [...], "without_email": [...]}."""
    by_owner: dict = defaultdict(lambda: defaultdict(list))
    for usage in usages.select_related("user", "token__user"):
        owner = usage.token.user if usage.token_id else usage.user
        if owner is not None:
            by_owner[owner][usage.field].append(usage)
    sent, without_email = [], []
    for owner, fields in by_owner.items():
        if not owner.email:
            without_email.append(owner.get_username())
            continue
        send_mail(
            f"[IntelGraph] Deprecated API fields you use: {', '.join(sorted(fields))}",
            timeline_text(fields, username=owner.get_username()),
            settings.DEFAULT_FROM_EMAIL,
            [owner.email],
        )
        ids = [row.pk for rows in fields.values() for row in rows]
        with transaction.atomic():
            DeprecatedFieldUsage.objects.filter(pk__in=ids).update(notified_at=timezone.now())
            audit.record(
                "api.deprecation_notified",
                actor=actor,
                target=owner,
                payload={"user": owner.get_username(), "fields": sorted(fields), "usages": len(ids)},
            )
        sent.append(owner.get_username())
    return {"sent": sent, "without_email": without_email}
