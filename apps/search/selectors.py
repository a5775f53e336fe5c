"""Keyword + attribute-filter search over entities (plan ADR-011: PostgreSQL full text, GIN).

Every query goes through the access layer: the SQL half narrows to what the subject may
see for ``search`` (exact for entities: tenant, clearance, compartments, grants), and the
page is decided by the policy before it is returned. Redacted fields never make an entity
match: their words are not in the index, and filtering on them needs the right to read them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, Count, F, FloatField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils.html import escape

from apps.access import bundle as policy
from apps.access import services as access
from apps.access.selectors import readable
from apps.audit import services as audit
from apps.core.choices import EntityKind, Sensitivity
from apps.core.models import Entity, Tenant
from apps.core.services import parse_sensitivity
from apps.search import cursors
from apps.search.models import TenantSearchSettings
from intelgraph import metering

MAX_QUERY_LENGTH = 256
DEFAULT_PAGE = 20
MAX_PAGE = 100
TOTAL_ESTIMATE_CAP = 1000
FILTER_KEYS = ("kind", "labels", "sensitivity", "created", "updated", "source", "tenant", "attributes")
RANGE_OPERATORS = ("gt", "gte", "lt", "lte")


class SearchInputError(ValueError):
    """Bad search input: the message says what and where; ``code`` is the API error code."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT", **extensions):
        super().__init__(message)
        self.code = code
        self.extensions = extensions


@dataclass
class Hit:
    entity: Entity
    score: float
    snippet: str = ""
    #: the name as the policy lets the subject see it (a part built from a withheld attribute is withheld)
    display_name: str = ""
    #: attributes withheld from the subject (governed ones are not indexed; linked-record ones are)
    withheld: list[str] = field(default_factory=list)


@dataclass
class SearchResult:
    hits: list[Hit]
    next_cursor: str | None
    queryset: object = field(repr=False, default=None)
    scope: list[int] = field(default_factory=list)  # the tenants searched (metering)

    def total_estimate(self) -> tuple[int, bool]:
        """Matches, counted up to a cap (exact below it)."""
        counted = self.queryset.order_by()[: TOTAL_ESTIMATE_CAP + 1].count()
        return min(counted, TOTAL_ESTIMATE_CAP), counted > TOTAL_ESTIMATE_CAP

    def facets(self) -> list[tuple[str, int]]:
        rows = self.queryset.order_by().values("kind").annotate(n=Count("id")).order_by("-n", "kind")
        return [(row["kind"], row["n"]) for row in rows]


# --------------------------------------------------------------------------- input


def _as_list(value, name: str) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SearchInputError(f"filters.{name}: give at least one value.")
    return values


def _parse_date(value, path: str) -> dt.datetime:
    if not isinstance(value, str):
        raise SearchInputError(f"{path}: expected a date like 2026-01-31, got {type(value).__name__}.")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise SearchInputError(f"{path}: {value[:40]!r} is not an ISO date (YYYY-MM-DD[THH:MM])") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _range(value, path: str, convert) -> dict:
    if not isinstance(value, dict) or not value:
        raise SearchInputError(f"{path}: expected an object with gt, gte, lt or lte.")
    unknown = sorted(set(value) - set(RANGE_OPERATORS))
    if unknown:
        raise SearchInputError(f"{path}: unknown operator {unknown[0]!r}; use gt, gte, lt or lte.")
    return {op: convert(bound, f"{path}.{op}") for op, bound in value.items()}


def _scalar(value, path: str):
    # NaN and Infinity are not JSON (RFC 8259) nor jsonb, though Python's json reads them: refused here, not by
    # PostgreSQL halfway through the query.
    if isinstance(value, float) and not math.isfinite(value):
        raise SearchInputError(f"{path}: {value!r} is not a number JSON can carry; give a finite number.")
    if isinstance(value, (str, int, float, bool)) and not (isinstance(value, str) and len(value) > 200):
        return value
    raise SearchInputError(f"{path}: expected a string, number or boolean (at most 200 characters).")


def _filters_q(filters: dict, *, subject: access.Subject) -> tuple[Q, set[int] | None]:
    """Turn the filters object into a Q, and the tenants it restricts to (None: all the subject's)."""
    if filters is None:
        return Q(), None
    if not isinstance(filters, dict):
        raise SearchInputError("filters: expected a JSON object.")
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise SearchInputError(f"filters: unknown key {unknown[0]!r}; allowed: {', '.join(FILTER_KEYS)}.")
    condition = Q()
    tenants = None
    if "tenant" in filters:
        slugs = [_scalar(v, "filters.tenant") for v in _as_list(filters["tenant"], "tenant")]
        found = dict(Tenant.objects.filter(slug__in=slugs, pk__in=subject.tenant_ids).values_list("slug", "pk"))
        missing = [s for s in slugs if s not in found]
        if missing:
            raise SearchInputError(f"filters.tenant: {missing[0]!r} is not one of your tenants.")
        tenants = set(found.values())
    if "kind" in filters:
        kinds = _as_list(filters["kind"], "kind")
        bad = [k for k in kinds if k not in EntityKind.values]
        if bad:
            raise SearchInputError(f"filters.kind: unknown kind {bad[0]!r}; use {', '.join(EntityKind.values)}.")
        condition &= Q(kind__in=kinds)
    if "labels" in filters:
        labels = _as_list(filters["labels"], "labels")
        if any(not isinstance(x, str) for x in labels):
            raise SearchInputError("filters.labels: expected strings.")
        condition &= Q(labels__contains=labels)
    if "sensitivity" in filters:
        value = filters["sensitivity"]
        if isinstance(value, dict):
            bounds = _range(value, "filters.sensitivity", _sensitivity)
            condition &= Q(**{f"sensitivity__{op}": bound for op, bound in bounds.items()})
        else:
            condition &= Q(
                sensitivity__in=[_sensitivity(v, "filters.sensitivity") for v in _as_list(value, "sensitivity")]
            )
    for key, column in (("created", "created_at"), ("updated", "updated_at")):
        if key in filters:
            bounds = _range(filters[key], f"filters.{key}", _parse_date)
            condition &= Q(**{f"{column}__{op}": bound for op, bound in bounds.items()})
    if "source" in filters:
        names = [_scalar(v, "filters.source") for v in _as_list(filters["source"], "source")]
        condition &= Q(provenance__source__name__in=names)
    if "attributes" in filters:
        condition &= _attribute_q(filters["attributes"], subject=subject, tenants=tenants)
    return condition, tenants


def _sensitivity(value, path: str) -> int:

    try:
        return parse_sensitivity(value)
    except ValueError:
        names = ", ".join(m.name.lower() for m in Sensitivity)
        raise SearchInputError(f"{path}: unknown sensitivity {value!r}; use 0-4 or {names}.") from None


def _attribute_q(attributes, *, subject: access.Subject, tenants: set[int] | None) -> Q:
    if not isinstance(attributes, dict) or not attributes:
        raise SearchInputError("filters.attributes: expected an object of attribute: value or attribute: {gte, lte}.")
    governed = policy.current_bundle().governed_fields.intersection(attributes)
    if governed:
        _require_field_rights(sorted(governed), subject=subject, tenants=tenants)
    condition = Q()
    for name, value in attributes.items():
        path = f"filters.attributes.{name}"
        if not isinstance(name, str) or not name or len(name) > 100:
            raise SearchInputError("filters.attributes: attribute names are 1-100 characters.")
        if isinstance(value, dict):
            bounds = _range(value, path, _scalar)
            comparisons = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
            clauses, variables = [], {}
            for index, (op, bound) in enumerate(bounds.items()):
                clauses.append(f"@ {comparisons[op]} $b{index}")
                variables[f"b{index}"] = bound
            # jsonpath compares typed values (numbers as numbers, strings as strings) and never raises.
            expression = f'$."{_jsonpath_key(name)}" ? ({" && ".join(clauses)})'
            condition &= _path_exists(expression, variables)
        else:
            condition &= Q(attributes__contains={name: _scalar(value, path)})
    return condition


def _path_exists(expression: str, variables: dict) -> Q:
    from django.db.models import BooleanField

    return Q(
        RawSQL(
            "jsonb_path_exists(core_entity.attributes, %s::jsonpath, %s::jsonb)",
            [expression, json.dumps(variables)],
            output_field=BooleanField(),
        )
    )


def _jsonpath_key(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def _require_field_rights(names: list[str], *, subject: access.Subject, tenants: set[int] | None) -> None:
    """Filtering on an attribute the policy withholds would reveal it: refuse, saying why."""
    scope = tenants or set(subject.tenant_ids)
    probe = [
        Entity(tenant_id=t, kind="person", display_name="-", sensitivity=0, attributes=dict.fromkeys(names, ""))
        for t in scope
    ]
    decisions = readable(subject=subject, action="search").page(probe, shows="nothing")
    for entity in probe:
        for name, redaction in sorted(decisions[entity.pk].redactions.items()):
            raise SearchInputError(
                f"filters.attributes.{name}: you may not filter on this attribute: {redaction.explanation}.",
                code="FORBIDDEN",
                reason=redaction.reason,
            )
    bound = [n for n in names if policy.current_bundle().data["field_rules"][n].get("purpose_bound")]
    if bound and subject.purpose:
        # Filtering on a purpose-bound field is a read the declared purpose unlocked.
        audit.record(
            "access.purpose_unlocked",
            actor=subject.user,
            tenant=next(iter(scope)) if len(scope) == 1 else None,
            payload={
                "action": "search-filter",
                "purpose": subject.purpose,
                "fields": dict.fromkeys(bound, 1),
                "records": 0,
                "resources": [],
                "bundle": policy.current_bundle().sha256,
            },
        )


# --------------------------------------------------------------------------- search


def entity_search(
    *, subject: access.Subject, q: str, filters: dict | None = None, after: str | None = None, first: int | None = None
) -> SearchResult:
    """One page of matches, best first, for what the subject may see. Audited (query as a hash); metered per
    tenant (a request and the seconds its queries took, FinOps)."""
    timer = metering.DbTimer()
    with connection.execute_wrapper(timer):
        result = _entity_search(subject=subject, q=q, filters=filters, after=after, first=first)
    metering.meter_split(tenant_ids=result.scope, feature="search", counts={"request": 1, "db_second": timer.seconds})
    return result


def _entity_search(
    *, subject: access.Subject, q: str, filters: dict | None, after: str | None, first: int | None
) -> SearchResult:
    started = time.perf_counter()
    text = (q or "").strip()
    if not text:
        raise SearchInputError("q: give at least one word to search for.")
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchInputError(f"q: at most {MAX_QUERY_LENGTH} characters (got {len(text)}).")
    if "\x00" in text:
        raise SearchInputError("q: contains a NUL character.")
    first = DEFAULT_PAGE if first is None else first
    if not 1 <= first <= MAX_PAGE:
        raise SearchInputError(f"first: between 1 and {MAX_PAGE} (got {first}).")
    condition, tenants = _filters_q(filters, subject=subject)
    scope = sorted(tenants if tenants is not None else subject.tenant_ids)
    configs = _tenant_configs(scope)
    if not _has_words(text, set(configs.values())):
        raise SearchInputError("q: no searchable words (only punctuation or stop words).")

    reader = readable(subject=subject, action="search", queryset=Entity.objects.filter(condition))
    queryset = reader.queryset
    match, ranks = Q(), []
    for tenant_id in scope:
        query = SearchQuery(text, search_type="websearch", config=configs[tenant_id])
        match |= Q(tenant_id=tenant_id, search_vector=query)
        ranks.append(When(tenant_id=tenant_id, then=SearchRank(F("search_vector"), query)))
    # ts_rank is real (float4); as double precision the value round-trips exactly through the cursor,
    # where a float4 printed as text would not compare equal to itself.
    rank = Cast(Case(*ranks, default=Value(0.0), output_field=FloatField()), FloatField())
    queryset = queryset.filter(match).annotate(score=rank)
    if "source" in (filters or {}):
        queryset = queryset.distinct()

    fingerprint = cursors.fingerprint(text, filters, scope, subject.user.pk)
    page_queryset = queryset
    if after:
        try:
            position = cursors.decode(after, query_fingerprint=fingerprint)
        except cursors.CursorError as exc:
            raise SearchInputError(str(exc), code=exc.code) from None
        page_queryset = queryset.filter(
            Q(score__lt=position.score) | Q(score=position.score, id__gt=position.entity_id)
        )
    rows = list(page_queryset.select_related("tenant").order_by("-score", "id")[: first + 1])
    more = len(rows) > first
    rows = rows[:first]
    page = reader.page(rows)
    hits = [
        Hit(
            row,
            float(row.score),
            display_name=page.redacted(row).display_name,
            withheld=sorted(page[row.pk].redactions),
        )
        for row in page.visible
    ]
    hits = _without_withheld_matches(hits, configs, text)
    _add_snippets(hits, configs, text)
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = cursors.encode(cursors.Position(float(last.score), str(last.pk)), query_fingerprint=fingerprint)
    audit.record(
        "search.query",
        actor=subject.user,
        tenant=scope[0] if len(scope) == 1 else None,
        payload={
            "q_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "filter_keys": sorted((filters or {}).keys()),
            "results": len(hits),
            "page": bool(after),
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "bundle": policy.current_bundle().sha256,
        },
    )
    return SearchResult(hits=hits, next_cursor=next_cursor, queryset=queryset, scope=scope)


def _tenant_configs(tenant_ids) -> dict[int, str]:
    configured = dict(
        TenantSearchSettings.objects.filter(tenant_id__in=tenant_ids).values_list("tenant_id", "text_search_config")
    )
    return {t: configured.get(t, "simple") for t in tenant_ids}


def _has_words(text: str, configs: set[str]) -> bool:
    with connection.cursor() as cursor:
        for config in configs or {"simple"}:
            cursor.execute("SELECT numnode(websearch_to_tsquery(%s::regconfig, %s))", [config, text])
            if cursor.fetchone()[0] > 0:
                return True
    return False


def _altered(hit: Hit) -> bool:
    return hit.display_name != hit.entity.display_name or bool(hit.withheld)


def _without_withheld_matches(hits: list[Hit], configs: dict[int, str], text: str) -> list[Hit]:
    """Drop hits that matched only through what is withheld from the subject: a part of the name the index
    keeps, or an attribute repeating a linked record they may not see (a search for a masked phone's
    number must not find its owner)."""
    altered = [h for h in hits if _altered(h)]
    if not altered:
        return hits
    matching = set()
    with connection.cursor() as cursor:
        for tenant_id, config in configs.items():
            rows = [h for h in altered if h.entity.tenant_id == tenant_id]
            if not rows:
                continue
            cursor.execute(
                """
                SELECT e.id::text FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS shown(id, name, withheld)
                JOIN core_entity e ON e.id = shown.id
                WHERE to_tsvector(%s::regconfig,
                        shown.name || ' ' || search_entity_text(e.attributes - ARRAY(SELECT jsonb_array_elements_text(shown.withheld::jsonb))))
                      @@ websearch_to_tsquery(%s::regconfig, %s)
                """,
                [
                    [str(h.entity.pk) for h in rows],
                    [h.display_name for h in rows],
                    [json.dumps(h.withheld) for h in rows],
                    config,
                    config,
                    text,
                ],
            )
            matching.update(entity_id for (entity_id,) in cursor.fetchall())
    return [h for h in hits if not _altered(h) or str(h.entity.pk) in matching]


def _add_snippets(hits: list[Hit], configs: dict[int, str], text: str) -> None:
    """ts_headline over the indexed text the subject may see (never a withheld field nor a withheld part of
    a name), for the page's rows."""
    if not hits:
        return
    by_id = {str(hit.entity.pk): hit for hit in hits}
    with connection.cursor() as cursor:
        for tenant_id, config in configs.items():
            rows = [h for h in hits if h.entity.tenant_id == tenant_id]
            if not rows:
                continue
            cursor.execute(
                """
                SELECT e.id::text, ts_headline(%s::regconfig,
                    shown.name || ' · ' || search_entity_text(e.attributes - ARRAY(SELECT jsonb_array_elements_text(shown.withheld::jsonb))),
                    websearch_to_tsquery(%s::regconfig, %s),
                    'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=20, MinWords=6, MaxFragments=2')
                FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS shown(id, name, withheld)
                JOIN core_entity e ON e.id = shown.id
                """,
                [
                    config,
                    config,
                    text,
                    [str(h.entity.pk) for h in rows],
                    [h.display_name for h in rows],
                    [json.dumps(h.withheld) for h in rows],
                ],
            )
            for entity_id, snippet in cursor.fetchall():
                # Escape the data, then turn the match markers into <mark>: snippets are safe to show as HTML.
                by_id[entity_id].snippet = escape(snippet).replace("\x02", "<mark>").replace("\x03", "</mark>")
