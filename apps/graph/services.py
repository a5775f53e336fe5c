"""Keeping the graph projection equal to PostgreSQL: the outbox, its drain, full rebuilds and verification.

* The outbox is core's (``apps.core.outbox``): every write of an entity or relationship, single or bulk, adds
  the graph's row in its own transaction, so a committed change always leaves one behind, and wakes the drain
  after commit. ``OutboxEvent`` here is the graph's share of that table.
* ``outbox_drain`` applies rows in id order, one drainer at a time (a PostgreSQL advisory lock),
  reading each record's *current* state: a record that still exists is upserted (MERGE by id), one
  that is gone is deleted. Applying a row twice or late is therefore harmless (idempotent). A row
  is deleted only after the graph store accepted its batch; if the store is down the rows stay,
  with their attempt count and last error, and the next drain catches up.
* ``graph_rebuild`` reloads a tenant's projection from one consistent PostgreSQL snapshot and drops
  the outbox rows that snapshot already contains; ``graph_verify`` compares both sides bucket by
  bucket (counts and checksums) and lists the records that differ.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from apps.access import services as access
from apps.access.errors import PurposeError
from apps.access.selectors import readable
from apps.audit import services as audit
from apps.core import outbox
from apps.core.choices import OutboxConsumer, OutboxKind, OutboxOp
from apps.core.models import Entity
from apps.graph.models import OutboxEvent
from apps.graph.store import GraphStore, GraphStoreUnavailable, bucket_of, get_store
from intelgraph import metering

logger = logging.getLogger(__name__)

DRAIN_LOCK = 0x1647_7261_7068  # pg advisory lock key: one drainer (or rebuild) at a time
BUCKETS = 256


# --------------------------------------------------------------------------- the outbox's graph rows


def outbox_add(*, tenant_id: int, kind: str, ids: Iterable, op: str = OutboxOp.UPSERT) -> int:
    """Queue records for the projection only, in the caller's transaction (ER's merges and rollbacks re-project
    what they touched); writes of entities and relationships go through ``apps.core.outbox``, for every consumer."""
    return outbox.outbox_add(tenant_id=tenant_id, kind=kind, ids=ids, op=op, consumers=[OutboxConsumer.GRAPH])


def drain_soon() -> None:
    """Ask a worker to drain: at most one request waits in the queue at a time (``apps.core.outbox.wake``).

    The flag is cleared when a drain *starts* (``drain_started``), so a commit that lands while a drain
    runs queues the next one, and no committed row waits for the beat schedule (the safety net).
    """
    outbox.wake(OutboxConsumer.GRAPH)


def drain_started() -> None:
    outbox.woken(OutboxConsumer.GRAPH)


# --------------------------------------------------------------------------- projection rows


NODE_SQL = "SELECT id, kind, sensitivity, labels, merged_into_id FROM core_entity WHERE tenant_id = %s"
EDGE_SQL = "SELECT id, kind, sensitivity, from_entity_id, to_entity_id FROM core_relationship WHERE tenant_id = %s"


def node_row(pk, kind, sensitivity, labels, merged) -> dict:
    return {
        "id": str(pk),
        "kind": kind,
        "sensitivity": int(sensitivity),
        "labels": sorted(labels or ()),
        "merged": str(merged) if merged else "",
        "bucket": bucket_of(pk),
    }


def edge_row(pk, kind, sensitivity, source, target) -> dict:
    return {
        "id": str(pk),
        "kind": kind,
        "sensitivity": int(sensitivity),
        "source": str(source),
        "target": str(target),
        "bucket": bucket_of(pk),
    }


def _fetch(sql: str, tenant_id: int, ids: list) -> list[tuple]:
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql + " AND id = ANY(%s::uuid[])", [tenant_id, [str(i) for i in ids]])
        return cursor.fetchall()


# --------------------------------------------------------------------------- drain


@dataclass
class DrainResult:
    applied: int = 0
    batches: int = 0
    busy: bool = False  # another drainer (or a rebuild) holds the lock
    remaining: int = 0


class _Lock:
    """A session-level advisory lock on the default connection (released on exit)."""

    def __init__(self, *, wait: bool):
        self.wait = wait
        self.held = False

    def __enter__(self):
        with connection.cursor() as cursor:
            if self.wait:
                cursor.execute("SELECT pg_advisory_lock(%s)", [DRAIN_LOCK])
                self.held = True
            else:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [DRAIN_LOCK])
                self.held = bool(cursor.fetchone()[0])
        return self

    def __exit__(self, *exc):
        if self.held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [DRAIN_LOCK])


def outbox_drain(
    *, batch_size: int = 2000, max_batches: int | None = None, store: GraphStore | None = None
) -> DrainResult:
    """Apply pending outbox rows in order. Raises GraphStoreUnavailable (rows kept) if the store fails."""
    store = store or get_store()
    result = DrainResult()
    with _Lock(wait=False) as lock:
        if not lock.held:
            result.busy = True
            return result
        while max_batches is None or result.batches < max_batches:
            batch = list(
                OutboxEvent.objects.order_by("id").values_list("id", "tenant_id", "kind", "object_id")[:batch_size]
            )
            if not batch:
                break
            try:
                _apply(batch, store)
            except GraphStoreUnavailable as exc:
                OutboxEvent.objects.filter(id__in=[row[0] for row in batch]).update(
                    attempts=F("attempts") + 1, last_error=str(exc)[:1000]
                )
                raise
            OutboxEvent.objects.filter(id__in=[row[0] for row in batch]).delete()
            result.applied += len(batch)
            result.batches += 1
    result.remaining = OutboxEvent.objects.count()
    return result


def _apply(batch: list[tuple], store: GraphStore) -> None:
    by_tenant: dict[int, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for _, tenant_id, kind, object_id in batch:
        by_tenant[tenant_id][0 if kind == OutboxKind.ENTITY else 1].add(object_id)
    for tenant_id, (entity_ids, edge_ids) in by_tenant.items():
        nodes = [node_row(*row) for row in _fetch(NODE_SQL, tenant_id, sorted(entity_ids))]
        edges = [edge_row(*row) for row in _fetch(EDGE_SQL, tenant_id, sorted(edge_ids))]
        present_nodes = {r["id"] for r in nodes}
        gone_nodes = {i for i in entity_ids if str(i) not in present_nodes}
        present_edges = {r["id"] for r in edges}
        gone_edges = {i for i in edge_ids if str(i) not in present_edges}
        store.upsert_nodes(tenant_id, nodes)
        if edges:
            written = store.upsert_edges(tenant_id, edges)
            if written < len(edges):
                # An end is missing from the projection (it was lost or never projected): heal it, retry.
                ends = sorted({r["source"] for r in edges} | {r["target"] for r in edges})
                store.upsert_nodes(tenant_id, [node_row(*row) for row in _fetch(NODE_SQL, tenant_id, ends)])
                store.upsert_edges(tenant_id, edges)
        store.delete_edges(tenant_id, gone_edges)
        store.delete_nodes(tenant_id, gone_nodes)


def outbox_lag() -> dict:
    """Pending rows and the age of the oldest, for /readyz and /metrics."""
    oldest = OutboxEvent.objects.order_by("id").values_list("created_at", flat=True).first()
    pending = OutboxEvent.objects.count() if oldest else 0
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return {"pending": pending, "oldest_seconds": round(age, 1)}


# --------------------------------------------------------------------------- rebuild


@dataclass
class RebuildResult:
    tenant: str
    nodes: int = 0
    edges: int = 0
    seconds: float = 0.0
    outbox_cleared: int = 0


def graph_rebuild(
    *,
    tenant,
    store: GraphStore | None = None,
    batch_size: int = 10_000,
    progress: Callable[[str, int], None] | None = None,
) -> RebuildResult:
    """Reload the tenant's projection from one PostgreSQL snapshot, then swap it in.

    Holds the drain lock throughout, so no drain writes to the old projection meanwhile; outbox rows
    the snapshot contains are dropped, later ones stay and are drained onto the new projection.
    """
    store = store or get_store()
    started = time.perf_counter()
    result = RebuildResult(tenant=tenant.slug)
    progress = progress or (lambda phase, n: None)
    outermost = not connection.in_atomic_block  # inside a caller's transaction (tests) its snapshot rules
    with _Lock(wait=True), transaction.atomic():
        with connection.cursor() as cursor:
            if outermost:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        high_water = OutboxEvent.objects.filter(tenant_id=tenant.pk).aggregate(top=Max("id"))["top"] or 0
        handle = store.rebuild_begin(tenant.pk)
        try:
            for rows in _stream(NODE_SQL, tenant.pk, batch_size):
                store.create_nodes(tenant.pk, [node_row(*r) for r in rows], graph=handle)
                result.nodes += len(rows)
                progress("nodes", len(rows))
            for rows in _stream(EDGE_SQL, tenant.pk, batch_size):
                store.create_edges(tenant.pk, [edge_row(*r) for r in rows], graph=handle)
                result.edges += len(rows)
                progress("edges", len(rows))
            store.rebuild_commit(tenant.pk, handle)
        except BaseException:
            with contextlib.suppress(GraphStoreUnavailable):
                store.rebuild_abort(tenant.pk, handle)
            raise
    result.outbox_cleared, _ = OutboxEvent.objects.filter(tenant_id=tenant.pk, id__lte=high_water).delete()
    result.seconds = time.perf_counter() - started
    return result


def _stream(sql: str, tenant_id: int, batch_size: int):
    """Rows of the current transaction's snapshot through a server-side cursor, batch by batch."""
    with connection.connection.cursor(name=f"ig_graph_{time.monotonic_ns()}") as cursor:
        cursor.itersize = batch_size
        cursor.execute(sql, [tenant_id])
        while rows := cursor.fetchmany(batch_size):
            yield rows


def rebuild_counts(*, tenant) -> tuple[int, int]:
    """How many nodes and edges a rebuild of this tenant will write (for progress bars)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM core_entity WHERE tenant_id = %s", [tenant.pk])
        nodes = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM core_relationship WHERE tenant_id = %s", [tenant.pk])
        return nodes, cursor.fetchone()[0]


# --------------------------------------------------------------------------- verify


def _node_key(row) -> tuple:
    pk, kind, sensitivity, labels, merged = row
    return (str(pk), kind, int(sensitivity), ",".join(sorted(labels or ())), str(merged) if merged else "")


def _edge_key(row) -> tuple:
    pk, kind, sensitivity, source, target = row
    return (str(pk), kind, int(sensitivity), str(source), str(target))


def _digest(key: tuple) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(map(str, key)).encode(), digest_size=8).digest(), "big")


@dataclass
class SideSummary:
    count: int = 0
    checksum: int = 0  # sum of row digests mod 2**64, so it does not depend on row order
    buckets: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, key: tuple) -> None:
        digest = _digest(key)
        self.count += 1
        self.checksum = (self.checksum + digest) % 2**64
        bucket = self.buckets[bucket_of(key[0])]
        bucket[0] += 1
        bucket[1] = (bucket[1] + digest) % 2**64


@dataclass
class Difference:
    what: str  # node | edge
    id: str
    problem: str  # missing in graph | extra in graph | differs
    postgres: tuple | None = None
    graph: tuple | None = None


@dataclass
class VerifyReport:
    tenant: str
    postgres: dict = field(default_factory=dict)  # {"nodes": SideSummary, "edges": SideSummary}
    graph: dict = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    differing_records: int = 0

    @property
    def ok(self) -> bool:
        return self.differing_records == 0 and all(
            self.postgres[w].count == self.graph[w].count and self.postgres[w].checksum == self.graph[w].checksum
            for w in ("nodes", "edges")
        )


def graph_verify(
    *,
    tenant,
    store: GraphStore | None = None,
    max_listed: int = 100,
    progress: Callable[[str, int], None] | None = None,
) -> VerifyReport:
    """Compare the tenant's nodes and edges in PostgreSQL and in the graph store."""
    store = store or get_store()
    progress = progress or (lambda phase, n: None)
    report = VerifyReport(tenant=tenant.slug)
    for what, sql, key, fetch in (
        ("nodes", NODE_SQL, _node_key, store.nodes_in_bucket),
        ("edges", EDGE_SQL, _edge_key, store.edges_in_bucket),
    ):
        pg, graph = SideSummary(), SideSummary()
        with transaction.atomic():
            for rows in _stream(sql, tenant.pk, 20_000):
                for row in rows:
                    pg.add(key(row))
                progress(f"postgres {what}", len(rows))
        graph_rows_by_bucket = {}
        for bucket in range(BUCKETS):
            rows = fetch(tenant.pk, bucket)
            for row in rows:
                graph.add(key(row))
            if tuple(pg.buckets.get(bucket, (0, 0))) != tuple(graph.buckets.get(bucket, (0, 0))):
                graph_rows_by_bucket[bucket] = {key(r)[0]: key(r) for r in rows}
            progress(f"graph {what}", 1)
        report.postgres[what], report.graph[what] = pg, graph
        if graph_rows_by_bucket:
            pg_rows = {}
            with connection.cursor() as cursor:
                cursor.execute(
                    sql + " AND get_byte(uuid_send(id), 15) = ANY(%s)", [tenant.pk, sorted(graph_rows_by_bucket)]
                )
                for row in cursor.fetchall():
                    k = key(row)
                    pg_rows[k[0]] = k
            in_graph = {i: k for rows in graph_rows_by_bucket.values() for i, k in rows.items()}
            singular = what[:-1]
            for pk in sorted(set(pg_rows) | set(in_graph)):
                a, b = pg_rows.get(pk), in_graph.get(pk)
                if a == b:
                    continue
                problem = "missing in graph" if b is None else "extra in graph" if a is None else "differs"
                report.differing_records += 1
                if len(report.differences) < max_listed:
                    report.differences.append(Difference(singular, pk, problem, a, b))
    return report


# --------------------------------------------------------------------------- canvas exports


class ExportRefused(Exception):
    def __init__(self, message: str, *, reason: str, allowed=()):
        super().__init__(message)
        self.reason = reason
        self.allowed = list(allowed)


def canvas_export_authorize(
    *, subject, entity_ids: list, export_format: str, tenant_check: Callable[[int], None] | None = None
) -> dict:
    """An Explorer export (PNG or JSON, made in the browser) is the policy's ``export`` action: it needs a declared
    purpose the tenants accept. Checked per tenant on the canvas and audited; raises ExportRefused otherwise.
    ``tenant_check(tenant_id)`` runs for each tenant before anything is recorded and may refuse by raising (the
    Explorer passes the budget check: an export is refused at a blocking compute cap). Metered per tenant."""
    if export_format not in ("png", "json"):
        raise ExportRefused("Export as png or json.", reason="BAD_FORMAT")
    if not isinstance(entity_ids, list) or not entity_ids or len(entity_ids) > 5000:
        raise ExportRefused("Send the ids of the entities on the canvas (1 to 5,000).", reason="BAD_IDS")
    try:
        ids = [str(uuid.UUID(str(i))) for i in entity_ids]
    except ValueError:
        raise ExportRefused("The canvas holds something that is not an entity id.", reason="BAD_IDS") from None
    # Only what the canvas could hold: entities the subject sees at least as a stub (as the canvas got them, action
    # expand). A hidden id of one's own tenant then takes the same path, and gets the same answer, as an unknown one.
    reader = readable(subject=subject, action="expand", queryset=Entity.objects.filter(pk__in=ids))
    rows = reader.queryset.only("id", "tenant_id", "kind", "sensitivity", "labels")
    tenants = sorted({row.tenant_id for row in reader.page(rows, shows="visibility").shown})
    if not tenants:
        raise ExportRefused("Nothing on the canvas belongs to your tenants.", reason="NOTHING")
    for tenant_id in tenants:
        try:
            access.purpose_require(subject=subject, tenant_id=tenant_id, action="export")
        except PurposeError as exc:
            raise ExportRefused(str(exc), reason=exc.reason, allowed=exc.allowed) from None
        if tenant_check is not None:
            tenant_check(tenant_id)
    for tenant_id in tenants:
        metering.meter(tenant_id=tenant_id, feature="export", unit="export", quantity=1)
        audit.record(
            "explorer.exported",
            actor=subject.user,
            tenant=tenant_id,
            payload={"format": export_format, "entities": len(ids), "purpose": subject.purpose, "sample": ids[:20]},
        )
    return {"tenants": len(tenants), "entities": len(ids)}
