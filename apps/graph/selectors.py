"""Reading the graph for canvases: neighbourhoods, count previews and nodes, always through the access policy.

The graph store answers topology only (which edges touch which nodes); what is shown comes from
PostgreSQL rows decided by ``apps.access.services.decide`` for the ``expand`` action, hop by hop:

* a hidden node or edge is dropped, and nothing is expanded *through* it, so a path through a record
  the analyst may not know of reveals nothing beyond it;
* a masked node or edge stays as a stub (kind and reason code only), keeping the shape of the graph;
* a visible node's label is ``RedactedEntity.display_name`` (decided with field redactions): a name built
  from an attribute withheld from the subject does not show it, and ``merged_into`` never names a hidden entity;
* a record the projection has but PostgreSQL no longer has (lag) is dropped; one PostgreSQL has but
  the projection not yet has is missing until the outbox drains (see ``GraphStatus`` on /readyz).

Expansion is bounded by an edge budget (``GRAPH_EXPANSION_BUDGET``) and the answer is paged by
``limit`` nodes in breadth-first order with a signed cursor, so a hub never floods a browser.
If the graph store is unreachable the same expansion runs on PostgreSQL, flagged ``degraded``.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models.base import ModelState

from apps.access import services as access
from apps.access.selectors import RedactedEntity, readable
from apps.audit import services as audit
from apps.core.choices import EntityKind
from apps.core.models import Entity, Relationship
from apps.core.services import KIND_RE
from apps.graph.store import Adjacency, GraphStoreUnavailable, PostgresAdjacency, Step, get_store
from intelgraph import cursors, metering

logger = logging.getLogger(__name__)

MAX_HOPS = 3
# A page of a neighbourhood: enough for a readable canvas (a 2-hop neighbourhood has 16 nodes at the median on the
# demo data); hubs come in further pages. 200-node pages cost hubs about 10 ms more (docs/benchmarks.md).
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_NODE_IDS = 500
MAX_KINDS = 50
CURSOR_PURPOSE = "intelgraph.graph.neighborhood"
CURSOR_TTL_SECONDS = cursors.TTL_SECONDS
STORE_RETRY_SECONDS = 5.0  # after a failure, go straight to PostgreSQL for this long

# ``attributes`` because a name may be built from a withheld attribute (an account named by its IBAN): the label
# is RedactedEntity.display_name, which needs the field decisions and the values to withhold.
ENTITY_FIELDS = (
    "id",
    "tenant_id",
    "kind",
    "display_name",
    "attributes",
    "sensitivity",
    "labels",
    "merged_into_id",
)  # model field order
DECISION_FIELDS = ("id", "tenant_id", "kind", "sensitivity", "labels")  # what the visibility rules read
EDGE_FIELDS = ("id", "tenant_id", "kind", "from_entity_id", "to_entity_id", "sensitivity")  # model field order


class GraphInputError(ValueError):
    """Bad input from a caller: ``code`` is the API error code, ``extensions`` extra detail."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT", **extensions):
        super().__init__(message)
        self.code = code
        self.extensions = extensions


# --------------------------------------------------------------------------- answers


@dataclass
class NodeView:
    id: str
    tenant: str
    kind: str
    masked: bool
    reason: str | None = None
    label: str | None = None
    sensitivity: int | None = None
    labels: list[str] | None = None
    hop: int | None = None
    merged_into: str | None = None


@dataclass
class EdgeView:
    id: str
    kind: str
    source: str
    target: str
    masked: bool
    reason: str | None = None
    sensitivity: int | None = None


@dataclass
class Neighborhood:
    seed: str
    nodes: list[NodeView]
    edges: list[EdgeView]
    truncated: bool
    degraded: bool
    next_cursor: str | None
    backend: str
    budget_exhausted: bool = False
    total_nodes: int = 0


@dataclass
class KindCount:
    kind: str
    count: int


@dataclass
class Preview:
    total: int
    masked: int
    by_edge_kind: list[KindCount]
    by_node_kind: list[KindCount]
    degraded: bool
    backend: str


def _node_view(entity: Entity, decision, *, tenant_slug: str, hop: int | None) -> NodeView:
    """``decision`` must carry field redactions (decide with fields=True): the label is the name this subject
    may see. ``merged_into`` is checked by ``_merge_targets_checked`` before the view leaves this module."""
    if decision.visibility == "masked":
        return NodeView(str(entity.pk), tenant_slug, entity.kind, True, decision.reason, hop=hop)
    return NodeView(
        str(entity.pk),
        tenant_slug,
        entity.kind,
        False,
        None,
        RedactedEntity(entity, decision).display_name,
        int(entity.sensitivity),
        list(entity.labels or ()),
        hop,
        str(entity.merged_into_id) if entity.merged_into_id else None,
    )


def _merge_targets_checked(subject: access.Subject, views: list[NodeView]) -> list[NodeView]:
    """Clear ``merged_into`` where the canonical entity is hidden from the subject: its id is not theirs to know.

    One query and one policy call, only for pages that show merged entities (a merged cluster is as
    sensitive as its most sensitive member, so the canonical entity can be above a member's clearance).
    """
    targets = {uuid.UUID(v.merged_into) for v in views if v.merged_into}
    if not targets:
        return views
    shown = {str(i) for i in readable(subject=subject, action="expand").ids(sorted(targets))}
    for view in views:
        if view.merged_into and view.merged_into not in shown:
            view.merged_into = None
    return views


def _edge_view(edge: Relationship, decision) -> EdgeView:
    masked = decision.visibility == "masked"
    return EdgeView(
        str(edge.pk),
        edge.kind,
        str(edge.from_entity_id),
        str(edge.to_entity_id),
        masked,
        decision.reason if masked else None,
        None if masked else int(edge.sensitivity),
    )


# --------------------------------------------------------------------------- adjacency: graph store or PostgreSQL

_store_down_until = 0.0


def _with_fallback(call, store: Adjacency | None):
    """Run ``call(adjacency)`` on the graph store, or on PostgreSQL when it is down. Returns (result, degraded, backend)."""
    global _store_down_until
    if time.monotonic() >= _store_down_until:
        try:
            store = store or get_store()
            return call(store), False, store.backend
        except GraphStoreUnavailable as exc:
            _store_down_until = time.monotonic() + STORE_RETRY_SECONDS
            logger.warning("graph store unavailable, answering from PostgreSQL: %s", exc)
    return call(PostgresAdjacency()), True, PostgresAdjacency.backend


def store_recovered() -> None:
    """Forget a remembered failure (tests, and the drain once it succeeds)."""
    global _store_down_until
    _store_down_until = 0.0


# --------------------------------------------------------------------------- input


def _parse_id(value, name: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise GraphInputError(f"{str(value)[:60]!r} is not an entity id (a UUID).", field=name) from None


def tenant_edge_kinds(tenant_id: int) -> list[str]:
    """The relationship kinds a tenant has (a skip scan over the (tenant, kind) index: a few index probes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE k AS ("
            " (SELECT kind FROM core_relationship WHERE tenant_id = %s ORDER BY kind LIMIT 1)"
            " UNION ALL"
            " SELECT (SELECT r.kind FROM core_relationship r WHERE r.tenant_id = %s AND r.kind > k.kind"
            "         ORDER BY r.kind LIMIT 1) FROM k WHERE k.kind IS NOT NULL"
            ") SELECT kind FROM k WHERE kind IS NOT NULL",
            [tenant_id, tenant_id],
        )
        return [row[0] for row in cursor.fetchall()]


def _kinds(values, *, name: str, known, what: str) -> list[str] | None:
    """Validated kinds, or None for no filter; ``known()`` lists the acceptable ones (asked only when needed)."""
    if values is None:
        return None
    if not isinstance(values, (list, tuple)) or len(values) > MAX_KINDS:
        raise GraphInputError(f"{name}: give a list of at most {MAX_KINDS} kinds.", field=name)
    cleaned = []
    for value in values:
        if not isinstance(value, str) or not KIND_RE.match(value):
            raise GraphInputError(f"{name}: {str(value)[:40]!r} is not a kind name.", field=name)
        cleaned.append(value)
    known = known()
    unknown = sorted(set(cleaned) - set(known))
    if unknown:
        raise GraphInputError(
            f"{name}: unknown {what} {unknown[0]!r}; known: {', '.join(known) or 'none'}.", field=name, known=known
        )
    return sorted(set(cleaned))


def _seed(subject: access.Subject, entity_id: uuid.UUID) -> Entity:
    """The seed entity, if the subject may see at least its stub; NOT_FOUND otherwise (no oracle)."""
    seed = (
        Entity.objects.filter(pk=entity_id, tenant_id__in=subject.tenant_ids)
        .select_related("tenant")
        .only(*ENTITY_FIELDS, "tenant__slug")
        .first()
    )
    if seed is None:
        raise GraphInputError("No such entity.", "NOT_FOUND")
    decision = readable(subject=subject, action="expand").page([seed], shows="names")[seed.pk]
    if decision.visibility == "hidden":
        raise GraphInputError("No such entity.", "NOT_FOUND")
    try:
        access.purpose_validate(subject=subject, tenant_id=seed.tenant_id)
    except access.PurposeError as exc:
        raise GraphInputError(str(exc), reason=exc.reason, allowed=exc.allowed) from None
    seed.ig_decision = decision
    return seed


# --------------------------------------------------------------------------- cursors


def _cursor_encode(offset: int, fingerprint: str) -> str:
    return cursors.encode(
        {"o": offset}, purpose=CURSOR_PURPOSE, query_fingerprint=fingerprint, ttl_seconds=CURSOR_TTL_SECONDS
    )


def _cursor_decode(cursor: str, fingerprint: str) -> int:
    try:
        data = cursors.decode(cursor, purpose=CURSOR_PURPOSE, query_fingerprint=fingerprint)
    except cursors.CursorError as exc:
        raise GraphInputError(str(exc), exc.code) from None
    if not isinstance(data.get("o"), int) or isinstance(data["o"], bool) or data["o"] < 0:
        raise GraphInputError("The cursor is not one this server issued.", cursors.INVALID_CURSOR)
    return data["o"]


# --------------------------------------------------------------------------- neighbourhood


def _rows(model, fields: tuple[str, ...], tenant_id: int, ids) -> dict:
    """Rows by id as (partly deferred) model instances: one primary-key lookup, without the queryset machinery
    (a hub's walk reads hundreds of rows per request). ``fields`` are attnames in the model's field order."""
    if not ids:
        return {}
    sql = f"SELECT {', '.join(fields)} FROM {model._meta.db_table} WHERE tenant_id = %s AND id = ANY(%s::uuid[])"  # noqa: S608 - constant names
    converters = _converters(model, fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant_id, [str(i) for i in ids]])
        rows = cursor.fetchall()
    if converters:
        rows = [tuple(convert(v) if convert else v for convert, v in zip(converters, row, strict=True)) for row in rows]
    return {str(row[0]): _instance(model, fields, row) for row in rows}


@functools.cache
def _converters(model, fields: tuple[str, ...]) -> tuple | None:
    """Per column, the field's conversion of a raw database value (a JSONField's text to a dict), or None if
    no column needs one."""
    found = []
    for name in fields:
        db_field = model._meta.get_field(name)
        from_db = getattr(db_field, "from_db_value", None)
        found.append((lambda v, f=from_db: f(v, None, connection)) if from_db else None)
    return tuple(found) if any(found) else None


def _instance(model, fields: tuple[str, ...], row: tuple):
    """A read-only model instance holding just these fields, built without Model.__init__ (its per-field
    descriptors and init signals cost more than the query for hundreds of rows). Other fields stay deferred:
    reading one would load it, as with ``.only()``."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(fields, row, strict=True))
    instance._state = ModelState()
    instance._state.adding, instance._state.db = False, "default"
    return instance


@dataclass
class _Walk:
    order: list[str] = field(default_factory=list)  # node ids, breadth-first
    nodes: dict[str, NodeView] = field(default_factory=dict)
    edges: dict[str, EdgeView] = field(default_factory=dict)
    hidden: int = 0
    exhausted: bool = False


def _walk(subject, seed: Entity, *, hops: int, edge_kinds, node_kinds, adjacency, budget: int) -> _Walk:
    tenant_id, slug = seed.tenant_id, seed.tenant.slug
    walk = _Walk()
    walk.order.append(str(seed.pk))
    walk.nodes[str(seed.pk)] = _node_view(seed, seed.ig_decision, tenant_slug=slug, hop=0)
    frontier, last_edges = [str(seed.pk)], []
    for hop in range(1, hops + 1):
        remaining = budget - len(walk.edges)
        if not frontier or remaining <= 0:
            walk.exhausted = walk.exhausted or (remaining <= 0 and bool(frontier))
            break
        steps = adjacency.expand(
            tenant_id, frontier, seen=last_edges, limit=remaining, edge_kinds=edge_kinds, node_kinds=node_kinds
        )
        if len(steps) >= remaining:
            walk.exhausted = True
        new_edges: dict[str, Step] = {}
        for step in steps:
            if step.edge_id not in walk.edges:
                new_edges.setdefault(step.edge_id, step)
        far_ids = {s.far for s in new_edges.values()} - set(walk.nodes)
        entities = _rows(Entity, ENTITY_FIELDS, tenant_id, far_ids)
        edges = _rows(Relationship, EDGE_FIELDS, tenant_id, new_edges)
        decisions = readable(subject=subject, action="expand").page(
            [*entities.values(), *edges.values()], shows="names"
        )
        next_frontier = []
        for edge_id, step in new_edges.items():  # in edge-id order, so pages are stable
            edge = edges.get(edge_id)
            if edge is None or {str(edge.from_entity_id), str(edge.to_entity_id)} != {step.near, step.far}:
                continue  # the projection is ahead of or behind PostgreSQL for this edge
            if decisions[edge.pk].visibility == "hidden":
                walk.hidden += 1
                continue
            far = step.far
            if far not in walk.nodes:
                entity = entities.get(far)
                if entity is None or (node_kinds is not None and entity.kind not in node_kinds):
                    continue
                if decisions[entity.pk].visibility == "hidden":
                    walk.hidden += 1
                    continue
                walk.nodes[far] = _node_view(entity, decisions[entity.pk], tenant_slug=slug, hop=hop)
                walk.order.append(far)
                next_frontier.append(far)
            walk.edges[edge_id] = _edge_view(edge, decisions[edge.pk])
        frontier, last_edges = next_frontier, list(new_edges)
    return walk


def neighborhood(
    *,
    subject: access.Subject,
    entity_id,
    hops: int = 1,
    edge_kinds=None,
    node_kinds=None,
    limit: int | None = None,
    after: str | None = None,
    store: Adjacency | None = None,
) -> Neighborhood:
    """The neighbourhood of an entity up to ``hops`` away, as the subject may see it, one page of nodes."""
    entity_id = _parse_id(entity_id)
    if not isinstance(hops, int) or isinstance(hops, bool) or not 1 <= hops <= MAX_HOPS:
        raise GraphInputError(f"hops must be 1, 2 or 3 (got {hops!r}).", field="hops")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise GraphInputError(f"limit must be between 1 and {MAX_LIMIT} (got {limit!r}).", field="limit")
    seed = _seed(subject, entity_id)
    edge_kinds = _kinds(edge_kinds, name="edgeKinds", known=lambda: tenant_edge_kinds(seed.tenant_id), what="edge kind")
    node_kinds = _kinds(node_kinds, name="nodeKinds", known=lambda: list(EntityKind.values), what="node kind")
    fingerprint = cursors.fingerprint(
        {"seed": str(seed.pk), "hops": hops, "e": edge_kinds, "n": node_kinds, "limit": limit}
    )
    offset = _cursor_decode(after, fingerprint) if after else 0
    budget = settings.GRAPH_EXPANSION_BUDGET
    walk, degraded, backend = _with_fallback(
        lambda adjacency: _walk(
            subject, seed, hops=hops, edge_kinds=edge_kinds, node_kinds=node_kinds, adjacency=adjacency, budget=budget
        ),
        store,
    )
    position = {node_id: i for i, node_id in enumerate(walk.order)}
    page_ids = walk.order[offset : offset + limit]
    end = offset + len(page_ids)
    # Each edge comes once: with the page that delivers the later of its two ends.
    edges = [e for e in walk.edges.values() if offset <= max(position[e.source], position[e.target]) < end]
    more = end < len(walk.order)
    result = Neighborhood(
        seed=str(seed.pk),
        nodes=_merge_targets_checked(subject, [walk.nodes[i] for i in page_ids]),
        edges=edges,
        truncated=more or walk.exhausted,
        degraded=degraded,
        next_cursor=_cursor_encode(end, fingerprint) if more else None,
        backend=backend,
        budget_exhausted=walk.exhausted,
        total_nodes=len(walk.order),
    )
    masked = sum(1 for n in result.nodes if n.masked) + sum(1 for e in result.edges if e.masked)
    metering.meter(tenant_id=seed.tenant_id, feature="graph", unit="request", quantity=1)
    audit.record(
        "graph.expanded",
        actor=subject.user,
        tenant=seed.tenant_id,
        target=seed,
        payload={
            "hops": hops,
            "edge_kinds": edge_kinds,
            "node_kinds": node_kinds,
            "offset": offset,
            "nodes": len(result.nodes),
            "edges": len(result.edges),
            "masked": masked,
            "hidden": walk.hidden,
            "truncated": result.truncated,
            "degraded": degraded,
            "purpose": subject.purpose,
        },
    )
    return result


def neighborhood_preview(
    *, subject: access.Subject, entity_id, edge_kinds=None, node_kinds=None, store: Adjacency | None = None
) -> Preview:
    """Neighbours one hop away counted per edge kind and node kind, as the policy would show them.

    Groups are decided as classes (kind, sensitivity, compartments), so a hub costs one aggregate
    query and one policy call. Object grants are not counted (they can only add records).
    """
    seed = _seed(subject, _parse_id(entity_id))
    edge_kinds = _kinds(edge_kinds, name="edgeKinds", known=lambda: tenant_edge_kinds(seed.tenant_id), what="edge kind")
    node_kinds = _kinds(node_kinds, name="nodeKinds", known=lambda: list(EntityKind.values), what="node kind")
    groups, degraded, backend = _with_fallback(
        lambda adjacency: adjacency.neighbour_counts(
            seed.tenant_id, [str(seed.pk)], edge_kinds=edge_kinds, node_kinds=node_kinds
        ),
        store,
    )
    probes = []
    for number, (ekind, esens, nkind, nsens, labels, _count) in enumerate(groups):
        edge = Relationship(id=uuid.UUID(int=2 * number + 1), tenant_id=seed.tenant_id, kind=ekind, sensitivity=esens)
        node = Entity(
            id=uuid.UUID(int=2 * number + 2),
            tenant_id=seed.tenant_id,
            kind=nkind,
            sensitivity=nsens,
            labels=list(labels),
            attributes={},
        )
        node.ig_granted = False
        probes.append((edge, node))
    decisions = readable(subject=subject, action="expand").page(
        [x for pair in probes for x in pair], shows="visibility"
    )
    total = masked = 0
    by_edge, by_node = Counter(), Counter()
    for (edge, node), group in zip(probes, groups, strict=True):
        seen = {decisions[edge.pk].visibility, decisions[node.pk].visibility}
        if "hidden" in seen:
            continue
        count = group[5]
        total += count
        masked += count if "masked" in seen else 0
        by_edge[edge.kind] += count
        by_node[node.kind] += count
    return Preview(
        total=total,
        masked=masked,
        degraded=degraded,
        backend=backend,
        by_edge_kind=[KindCount(k, c) for k, c in sorted(by_edge.items(), key=lambda kv: (-kv[1], kv[0]))],
        by_node_kind=[KindCount(k, c) for k, c in sorted(by_node.items(), key=lambda kv: (-kv[1], kv[0]))],
    )


def graph_nodes(*, subject: access.Subject, ids) -> list[NodeView]:
    """Canvas nodes for these ids (search results to add, live refreshes); unknown or hidden ids are left out."""
    if not isinstance(ids, (list, tuple)) or len(ids) > MAX_NODE_IDS:
        raise GraphInputError(f"ids: give a list of at most {MAX_NODE_IDS} ids.", field="ids")
    wanted = list(dict.fromkeys(_parse_id(i, "ids") for i in ids))
    if not wanted:
        return []
    reader = readable(subject=subject, action="expand", queryset=Entity.objects.filter(pk__in=wanted))
    page = reader.page(reader.queryset.select_related("tenant").only(*ENTITY_FIELDS, "tenant__slug"), shows="names")
    by_id = {row.pk: _node_view(row, page[row.pk], tenant_slug=row.tenant.slug, hop=None) for row in page.shown}
    return _merge_targets_checked(subject, [by_id[i] for i in wanted if i in by_id])


def selection_graph(*, subject: access.Subject, ids) -> tuple[list[NodeView], list[EdgeView]]:
    """The nodes of a canvas selection and the relationships among them, as the subject may see them: hidden
    ones left out, masked ones without name, names built from withheld attributes withheld (what may be shown
    is what may be sent on, e.g. to an LLM for a summary)."""
    nodes = [view for view in graph_nodes(subject=subject, ids=ids) if not view.masked]
    if not nodes:
        return [], []
    wanted = [uuid.UUID(view.id) for view in nodes]
    rows = list(
        Relationship.objects.filter(from_entity_id__in=wanted, to_entity_id__in=wanted)
        .only(*EDGE_FIELDS)
        .order_by("id")[: MAX_NODE_IDS * 4]
    )
    decisions = readable(subject=subject, action="expand").page(rows, shows="names") if rows else {}
    edges = [
        _edge_view(row, decisions[row.pk])
        for row in rows
        if decisions[row.pk].visibility != "hidden" and decisions[row.pk].visibility != "masked"
    ]
    return nodes, edges


def graph_kinds(*, subject: access.Subject) -> tuple[list[str], list[str]]:
    """Edge kinds present in the subject's tenants, and the entity kinds."""
    edge_kinds = sorted({kind for tenant_id in subject.tenant_ids for kind in tenant_edge_kinds(tenant_id)})
    return edge_kinds, list(EntityKind.values)


# --------------------------------------------------------------------------- live updates, per subscriber


def watchable_ids(*, subject: access.Subject, ids) -> set[str]:
    """Of the ids a canvas asks to hear about, those the subject may see at least as a stub (action expand).

    The others (hidden, another tenant's, unknown, not an id at all) are dropped alike and silently, so a
    subscription cannot tell a hidden record from one that does not exist. One query and one policy call.
    """
    wanted = set()
    for value in ids:
        try:
            wanted.add(uuid.UUID(str(value)))
        except (ValueError, TypeError, AttributeError):
            continue
    return {str(i) for i in readable(subject=subject, action="expand").ids(sorted(wanted))}


def changes_for_subscriber(*, subject: access.Subject, tenant_id: int, changes: list[dict], watched) -> list[dict]:
    """The part of a live change event one subscriber may hear, decided now with their current subject.

    ``watched`` holds the ids this subscriber watches that it could see when it asked (``watchable_ids``).
    A change to an entity the subject may not see now is left out; one it sees as a stub says no more than
    the stub (id and what happened). ``into`` (the canonical entity of a merge) is kept only if the subject may
    see that entity too. A deleted entity has no row to decide on: it is reported because it was watchable.
    One query and one policy call for the whole event.
    """
    mine = [c for c in changes if c["id"] in watched]
    if not mine or tenant_id not in subject.memberships:
        return []
    ids = {c["id"] for c in mine} | {c["into"] for c in mine if c.get("into")}
    rows = list(Entity.objects.filter(pk__in=ids, tenant_id=tenant_id).only(*DECISION_FIELDS))
    shown = {str(row.pk) for row in readable(subject=subject, action="expand").page(rows, shows="visibility").shown}
    existing = {str(row.pk) for row in rows}
    heard = []
    for change in mine:
        if change["id"] in shown or (change["op"] == "deleted" and change["id"] not in existing):
            into = change.get("into")
            heard.append({"id": change["id"], "op": change["op"], "into": into if into in shown else None})
    return heard
