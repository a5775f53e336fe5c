"""One contract for every graph store adapter: what the rest of the code may rely on.

The suite runs against each adapter that can be started here: FalkorDB on the embedded server (a
private graph name prefix per test, removed afterwards) and Neo4j 5 when ``NEO4J_TEST_URL`` names a
server (e.g. ``neo4j://neo4j:secret@127.0.0.1:7687``). Rows are built with the same helpers the
outbox drain and the rebuild use (``node_row``/``edge_row``).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter

import pytest
from django.conf import settings

from apps.graph.services import edge_row, node_row
from apps.graph.store import FalkorDBStore, GraphStoreUnavailable, Neo4jStore, Step, bucket_of

T1, T2 = 900001, 900002
EVIL = "x' }) MATCH (n) DETACH DELETE n //"
EVIL_EDGE = "y\" }]->() WITH 1 AS x MATCH (m) DETACH DELETE m RETURN 1 // \\' \\"
EVIL_LABELS = ['a"b', "c\\d", "'; MATCH (n) DELETE n", "$tenant", "{x}"]


def uid(bucket: int | None = None) -> str:
    """A random UUID string; with ``bucket``, one whose last byte (its bucket) is that value."""
    value = uuid.uuid4()
    if bucket is not None:
        raw = bytearray(value.bytes)
        raw[15] = bucket
        value = uuid.UUID(bytes=bytes(raw))
    return str(value)


def node(pk=None, kind="person", sensitivity=1, labels=(), merged=None) -> dict:
    return node_row(pk or uid(), kind, sensitivity, list(labels), merged)


def edge(source, target, kind="knows", sensitivity=1, pk=None) -> dict:
    """An edge row between two node rows (or ids)."""
    ends = [end["id"] if isinstance(end, dict) else end for end in (source, target)]
    return edge_row(pk or uid(), kind, sensitivity, *ends)


# --------------------------------------------------------------------------- the adapters


@pytest.fixture(params=["falkordb", "neo4j"])
def store(request):
    if request.param == "falkordb":
        prefix = f"contract_{uuid.uuid4().hex[:8]}"
        adapter = FalkorDBStore(settings.GRAPH_URL, prefix)
        try:
            yield adapter
        finally:
            redis = adapter._db.connection
            for key in redis.scan_iter(f"{prefix}:*"):
                redis.delete(key)
            adapter.close()
    else:
        url = os.environ.get("NEO4J_TEST_URL")
        if not url:
            pytest.skip("no Neo4j server: set NEO4J_TEST_URL (e.g. neo4j://user:password@host:7687) to run it")
        adapter = Neo4jStore(url, "neo4j")
        for tenant in (T1, T2):
            adapter.delete_tenant(tenant)
        try:
            yield adapter
        finally:
            for tenant in (T1, T2):
                adapter.delete_tenant(tenant)
            adapter.close()


def node_tuple(row: dict) -> tuple:
    """What nodes_in_bucket returns for a node row."""
    return (row["id"], row["kind"], row["sensitivity"], tuple(row["labels"]), row["merged"] or None)


def edge_tuple(row: dict) -> tuple:
    """What edges_in_bucket returns for an edge row."""
    return (row["id"], row["kind"], row["sensitivity"], row["source"], row["target"])


def all_nodes(store, tenant, rows) -> list[tuple]:
    """Every node of the tenant in the buckets of ``rows`` (sorted)."""
    return sorted(t for b in sorted({r["bucket"] for r in rows}) for t in store.nodes_in_bucket(tenant, b))


def all_edges(store, tenant, rows) -> list[tuple]:
    return sorted(t for b in sorted({r["bucket"] for r in rows}) for t in store.edges_in_bucket(tenant, b))


@pytest.fixture
def star(store):
    """A hub with five neighbours: three people, an organisation linked twice (both directions)."""
    hub = node(kind="person", labels=["hub"])
    p1 = node(kind="person", sensitivity=1, labels=["a"])
    p2 = node(kind="person", sensitivity=1, labels=["a"])
    p3 = node(kind="person", sensitivity=3)
    org = node(kind="organization", sensitivity=1, labels=["a", "b"])
    lone = node(kind="person")
    nodes = [hub, p1, p2, p3, org, lone]
    edges = {
        "hub-p1": edge(hub, p1, "knows", 1),
        "hub-p2": edge(hub, p2, "knows", 1),
        "hub-p3": edge(hub, p3, "knows", 1),
        "hub-org": edge(hub, org, "works_for", 2),
        "org-hub": edge(org, hub, "owns", 1),
        "p1-p2": edge(p1, p2, "knows", 1),
    }
    store.upsert_nodes(T1, nodes)
    assert store.upsert_edges(T1, list(edges.values())) == 6
    return {"hub": hub, "p1": p1, "p2": p2, "p3": p3, "org": org, "lone": lone, "nodes": nodes, "edges": edges}


# --------------------------------------------------------------------------- writes


def test_upsert_nodes_is_idempotent_and_the_second_upsert_wins(store):
    rows = [node(labels=["b", "a"]), node(kind="organization", sensitivity=2)]
    store.upsert_nodes(T1, rows)
    store.upsert_nodes(T1, rows)
    assert store.counts(T1) == (2, 0)
    changed = [
        {**rows[0], "kind": "vessel", "sensitivity": 4, "labels": ["z"], "merged": rows[1]["id"]},
        rows[1],
    ]
    store.upsert_nodes(T1, changed)
    assert store.counts(T1) == (2, 0)
    assert all_nodes(store, T1, rows) == sorted(node_tuple(r) for r in changed)
    by_id = {t[0]: t for t in all_nodes(store, T1, rows)}
    assert by_id[rows[0]["id"]] == (rows[0]["id"], "vessel", 4, ("z",), rows[1]["id"])


def test_empty_writes_are_no_ops(store):
    store.upsert_nodes(T1, [])
    store.create_nodes(T1, [])
    assert store.upsert_edges(T1, []) == 0
    store.create_edges(T1, [])
    store.delete_nodes(T1, [])
    store.delete_edges(T1, [])
    assert store.expand(T1, [], limit=10) == []
    assert store.expand(T1, [uid()], limit=0) == []
    assert store.counts(T1) == (0, 0)


def test_create_nodes_and_edges(store):
    a, b, c = node(labels=["x"]), node(kind="organization", sensitivity=2), node()
    store.create_nodes(T1, [a, b, c])
    ab, bc = edge(a, b, "works_for", 2), edge(b, c, "owns", 0)
    store.create_edges(T1, [ab, bc])
    assert store.counts(T1) == (3, 2)
    assert all_nodes(store, T1, [a, b, c]) == sorted(node_tuple(r) for r in (a, b, c))
    assert all_edges(store, T1, [ab, bc]) == sorted(edge_tuple(r) for r in (ab, bc))


def test_upsert_edges_counts_what_it_wrote_and_skips_edges_with_missing_ends(store):
    a, b = node(), node()
    store.upsert_nodes(T1, [a, b])
    good = edge(a, b)
    no_source = edge(uid(), b)
    no_target = edge(a, uid())
    assert store.upsert_edges(T1, [no_source, good, no_target]) == 1
    assert store.counts(T1) == (2, 1)
    assert all_edges(store, T1, [good, no_source, no_target]) == [edge_tuple(good)]
    assert store.upsert_edges(T1, [no_source, no_target]) == 0
    assert store.counts(T1) == (2, 1)


def test_re_upserting_an_edge_is_idempotent_and_updates_it(store):
    a, b = node(), node()
    store.upsert_nodes(T1, [a, b])
    row = edge(a, b, "knows", 1)
    assert store.upsert_edges(T1, [row]) == 1
    assert store.upsert_edges(T1, [row]) == 1
    assert store.counts(T1) == (2, 1)
    changed = {**row, "kind": "employs", "sensitivity": 3}
    assert store.upsert_edges(T1, [changed]) == 1
    assert store.counts(T1) == (2, 1)
    assert store.edges_in_bucket(T1, row["bucket"]) == [(row["id"], "employs", 3, a["id"], b["id"])]
    # Upserting the ends again leaves the edge alone.
    store.upsert_nodes(T1, [a, b])
    assert store.counts(T1) == (2, 1)


# --------------------------------------------------------------------------- expand


def test_expand_returns_steps_in_edge_id_order_with_direction_preserved(store, star):
    hub, edges = star["hub"]["id"], star["edges"]
    steps = store.expand(T1, [hub], limit=100)
    at_hub = [e for name, e in edges.items() if "hub" in name]
    assert [s.edge_id for s in steps] == sorted(e["id"] for e in at_hub)
    expected = {
        e["id"]: Step(
            e["id"], e["kind"], e["source"], e["target"], hub, e["target"] if e["source"] == hub else e["source"]
        )
        for e in at_hub
    }
    assert steps == [expected[s.edge_id] for s in steps]
    incoming = next(s for s in steps if s.edge_id == edges["org-hub"]["id"])
    org = star["org"]["id"]
    assert (incoming.source, incoming.target, incoming.near, incoming.far) == (org, hub, hub, org)
    assert all(isinstance(s, Step) for s in steps)


def test_expand_respects_limit_and_seen(store, star):
    hub = star["hub"]["id"]
    ordered = sorted(e["id"] for name, e in star["edges"].items() if "hub" in name)
    assert [s.edge_id for s in store.expand(T1, [hub], limit=2)] == ordered[:2]
    assert [s.edge_id for s in store.expand(T1, [hub], limit=1)] == ordered[:1]
    assert [s.edge_id for s in store.expand(T1, [hub], seen=ordered[:2], limit=2)] == ordered[2:4]
    assert store.expand(T1, [hub], seen=ordered, limit=100) == []
    assert store.expand(T1, [star["lone"]["id"]], limit=100) == []
    assert store.expand(T1, [uid()], limit=100) == []


def test_expand_filters_by_edge_kind_and_neighbour_kind(store, star):
    hub, edges = star["hub"]["id"], star["edges"]
    knows = store.expand(T1, [hub], edge_kinds=["knows"], limit=100)
    assert [s.edge_id for s in knows] == sorted(edges[n]["id"] for n in ("hub-p1", "hub-p2", "hub-p3"))
    orgs = store.expand(T1, [hub], node_kinds=["organization"], limit=100)
    assert [s.edge_id for s in orgs] == sorted(edges[n]["id"] for n in ("hub-org", "org-hub"))
    both = store.expand(T1, [hub], edge_kinds=["owns", "knows"], node_kinds=["organization"], limit=100)
    assert [s.edge_id for s in both] == [edges["org-hub"]["id"]]
    assert store.expand(T1, [hub], edge_kinds=[], limit=100) == []
    assert store.expand(T1, [hub], node_kinds=["vessel"], limit=100) == []


def test_an_edge_between_two_frontier_nodes_comes_from_both_ends(store, star):
    p1, p2, edges = star["p1"]["id"], star["p2"]["id"], star["edges"]
    between = edges["p1-p2"]["id"]
    steps = store.expand(T1, [p1, p2], limit=100)
    assert [s.edge_id for s in steps] == sorted([between, between, edges["hub-p1"]["id"], edges["hub-p2"]["id"]])
    assert sorted((s.near, s.far) for s in steps if s.edge_id == between) == sorted([(p1, p2), (p2, p1)])
    assert {(s.source, s.target) for s in steps if s.edge_id == between} == {(p1, p2)}
    # Once seen, it comes from neither end.
    assert between not in {s.edge_id for s in store.expand(T1, [p1, p2], seen=[between], limit=100)}


# --------------------------------------------------------------------------- counts preview


def test_neighbour_counts_are_grouped_by_what_the_policy_reads(store, star):
    hub = star["hub"]["id"]
    assert Counter(store.neighbour_counts(T1, [hub])) == Counter(
        [
            ("knows", 1, "person", 1, ("a",), 2),
            ("knows", 1, "person", 3, (), 1),
            ("works_for", 2, "organization", 1, ("a", "b"), 1),
            ("owns", 1, "organization", 1, ("a", "b"), 1),
        ]
    )
    assert Counter(store.neighbour_counts(T1, [hub], edge_kinds=["knows"])) == Counter(
        [("knows", 1, "person", 1, ("a",), 2), ("knows", 1, "person", 3, (), 1)]
    )
    assert Counter(store.neighbour_counts(T1, [hub], node_kinds=["organization"])) == Counter(
        [("works_for", 2, "organization", 1, ("a", "b"), 1), ("owns", 1, "organization", 1, ("a", "b"), 1)]
    )
    assert store.neighbour_counts(T1, [hub], edge_kinds=["owns"], node_kinds=["person"]) == []
    assert store.neighbour_counts(T1, [star["lone"]["id"]]) == []
    assert store.neighbour_counts(T1, []) == []


# --------------------------------------------------------------------------- deletes


def test_delete_nodes_removes_the_node_and_its_edges(store, star):
    assert store.counts(T1) == (6, 6)
    store.delete_nodes(T1, [star["p1"]["id"]])
    assert store.counts(T1) == (5, 4)  # hub-p1 and p1-p2 went with it
    assert star["p1"]["id"] not in {r[0] for r in all_nodes(store, T1, star["nodes"])}
    assert {s.edge_id for s in store.expand(T1, [star["p2"]["id"]], limit=100)} == {star["edges"]["hub-p2"]["id"]}
    store.delete_nodes(T1, [star["p1"]["id"], uid()])  # gone or never there: nothing happens
    assert store.counts(T1) == (5, 4)


def test_delete_edges_removes_only_those_edges(store, star):
    edges = star["edges"]
    store.delete_edges(T1, [edges["hub-p1"]["id"], edges["org-hub"]["id"], uid()])
    assert store.counts(T1) == (6, 4)
    assert all_edges(store, T1, list(edges.values())) == sorted(
        edge_tuple(e) for name, e in edges.items() if name not in ("hub-p1", "org-hub")
    )
    assert {s.edge_id for s in store.expand(T1, [star["p1"]["id"]], limit=100)} == {edges["p1-p2"]["id"]}


# --------------------------------------------------------------------------- buckets and counts


def test_buckets_return_exactly_their_rows(store):
    in_7 = [node(uid(7), labels=["q"]), node(uid(7), kind="organization", sensitivity=2)]
    in_8 = node(uid(8))
    store.upsert_nodes(T1, [*in_7, in_8])
    assert all(bucket_of(r["id"]) == 7 for r in in_7) and bucket_of(in_8["id"]) == 8
    e7 = edge(in_7[0], in_8, "knows", 2, pk=uid(7))
    e8a, e8b = edge(in_8, in_7[1], pk=uid(8)), edge(in_7[1], in_7[0], "owns", pk=uid(8))
    assert store.upsert_edges(T1, [e7, e8a, e8b]) == 3
    assert sorted(store.nodes_in_bucket(T1, 7)) == sorted(node_tuple(r) for r in in_7)
    assert store.nodes_in_bucket(T1, 8) == [node_tuple(in_8)]
    assert store.nodes_in_bucket(T1, 9) == []
    assert store.edges_in_bucket(T1, 7) == [edge_tuple(e7)]
    assert sorted(store.edges_in_bucket(T1, 8)) == sorted(edge_tuple(e) for e in (e8a, e8b))
    assert store.edges_in_bucket(T1, 9) == []


def test_counts(store, star):
    assert store.counts(T1) == (6, 6)
    assert store.counts(T2) == (0, 0)


def test_delete_tenant_removes_only_that_tenant(store, star):
    other = [node(), node()]
    store.upsert_nodes(T2, other)
    store.upsert_edges(T2, [edge(*other)])
    store.delete_tenant(T1)
    assert store.counts(T1) == (0, 0)
    assert store.expand(T1, [star["hub"]["id"]], limit=100) == []
    assert store.counts(T2) == (2, 1)


# --------------------------------------------------------------------------- tenants


def test_one_tenants_data_is_invisible_to_another_even_by_id(store, star):
    ids = [r["id"] for r in star["nodes"]]
    edge_ids = [e["id"] for e in star["edges"].values()]
    assert store.counts(T2) == (0, 0)
    assert store.expand(T2, ids, limit=100) == []
    assert store.expand(T2, ids, edge_kinds=["knows"], node_kinds=["person"], limit=100) == []
    assert store.neighbour_counts(T2, ids) == []
    for bucket in {r["bucket"] for r in star["nodes"]} | {e["bucket"] for e in star["edges"].values()}:
        assert store.nodes_in_bucket(T2, bucket) == []
        assert store.edges_in_bucket(T2, bucket) == []
    # Nor can another tenant write to it, link to it or delete from it.
    assert store.upsert_edges(T2, [edge(star["hub"], star["lone"])]) == 0
    store.delete_edges(T2, edge_ids)
    store.delete_nodes(T2, ids)
    store.delete_tenant(T2)
    assert store.counts(T1) == (6, 6)
    assert len(store.expand(T1, [star["hub"]["id"]], limit=100)) == 5


def test_each_tenant_sees_only_its_own_rows_in_a_shared_bucket(store):
    mine, theirs = node(uid(42)), node(uid(42), kind="organization")
    store.upsert_nodes(T1, [mine])
    store.upsert_nodes(T2, [theirs])
    assert store.nodes_in_bucket(T1, 42) == [node_tuple(mine)]
    assert store.nodes_in_bucket(T2, 42) == [node_tuple(theirs)]
    assert store.counts(T1) == store.counts(T2) == (1, 0)


# --------------------------------------------------------------------------- rebuilds


def test_rebuild_commit_swaps_in_the_new_projection(store):
    old = [node(), node()]
    store.upsert_nodes(T1, old)
    store.upsert_edges(T1, [edge(*old)])
    new = [node(kind="organization"), node(), node()]
    new_edges = [edge(new[0], new[1], "owns"), edge(new[1], new[2])]

    handle = store.rebuild_begin(T1)
    store.create_nodes(T1, new, graph=handle)
    store.create_edges(T1, new_edges, graph=handle)
    if store.backend == "falkordb":  # built beside the live projection, which readers still see
        assert store.counts(T1) == (2, 1)
    store.rebuild_commit(T1, handle)

    assert store.counts(T1) == (3, 2)
    assert store.expand(T1, [old[0]["id"]], limit=10) == []
    assert all_nodes(store, T1, old + new) == sorted(node_tuple(r) for r in new)
    assert all_edges(store, T1, new_edges) == sorted(edge_tuple(e) for e in new_edges)
    assert [s.edge_id for s in store.expand(T1, [new[1]["id"]], limit=10)] == sorted(e["id"] for e in new_edges)
    # The swapped-in projection takes ordinary writes.
    extra = node()
    store.upsert_nodes(T1, [extra])
    assert store.upsert_edges(T1, [edge(new[0], extra)]) == 1
    assert store.counts(T1) == (4, 3)


def test_rebuild_to_an_empty_projection_empties_the_tenant(store, star):
    handle = store.rebuild_begin(T1)
    store.rebuild_commit(T1, handle)
    assert store.counts(T1) == (0, 0)
    assert store.expand(T1, [star["hub"]["id"]], limit=10) == []


def test_rebuild_abort_leaves_the_live_projection_untouched(store, star):
    if store.backend == "neo4j":
        pytest.skip("Neo4jStore reloads a tenant in place (rebuild_begin empties it): there is nothing to abort")
    handle = store.rebuild_begin(T1)
    store.create_nodes(T1, [node(), node()], graph=handle)
    store.rebuild_abort(T1, handle)
    assert store.counts(T1) == (6, 6)
    assert all_nodes(store, T1, star["nodes"]) == sorted(node_tuple(r) for r in star["nodes"])
    assert len(store.expand(T1, [star["hub"]["id"]], limit=100)) == 5
    assert not store._db.connection.exists(handle)


# --------------------------------------------------------------------------- values are parameters


def test_hostile_strings_round_trip_as_data(store, star):
    bad = node(kind=EVIL, sensitivity=2, labels=EVIL_LABELS)
    store.upsert_nodes(T1, [bad])
    link = edge(star["hub"], bad, EVIL_EDGE, 1)
    assert store.upsert_edges(T1, [link]) == 1
    assert store.counts(T1) == (7, 7)
    assert node_tuple(bad) == (bad["id"], EVIL, 2, tuple(sorted(EVIL_LABELS)), None)
    assert [t for t in store.nodes_in_bucket(T1, bad["bucket"]) if t[0] == bad["id"]] == [node_tuple(bad)]
    assert [t for t in store.edges_in_bucket(T1, link["bucket"]) if t[0] == link["id"]] == [edge_tuple(link)]

    hub = star["hub"]["id"]
    by_kind = store.expand(T1, [hub], edge_kinds=[EVIL_EDGE], node_kinds=[EVIL], limit=10)
    assert by_kind == [Step(link["id"], EVIL_EDGE, hub, bad["id"], hub, bad["id"])]
    assert store.neighbour_counts(T1, [bad["id"]]) == [(EVIL_EDGE, 1, "person", 1, ("hub",), 1)]
    assert store.expand(T1, [EVIL, EVIL_EDGE], seen=[EVIL], limit=10) == []
    assert store.neighbour_counts(T1, [EVIL], edge_kinds=[EVIL_EDGE], node_kinds=EVIL_LABELS) == []
    store.delete_nodes(T1, [EVIL])
    store.delete_edges(T1, [EVIL_EDGE, "') DELETE r //"])
    assert store.counts(T1) == (7, 7)

    store.delete_edges(T1, [link["id"]])
    store.delete_nodes(T1, [bad["id"]])
    assert store.counts(T1) == (6, 6)


def test_ensure_schema_is_idempotent(store, star):
    first = store.ensure_schema(T1)
    second = store.ensure_schema(T1)
    assert first == second and len(first) >= 4
    assert store.ensure_schema(T2) == first  # a tenant with no data yet
    assert store.counts(T1) == (6, 6)
    extra = node()
    store.upsert_nodes(T1, [extra])
    assert store.upsert_edges(T1, [edge(star["hub"], extra)]) == 1
    assert store.counts(T1) == (7, 7)


# --------------------------------------------------------------------------- failures


def test_a_dead_falkordb_is_graph_store_unavailable_and_recovery_needs_no_new_client(spare_graph):
    adapter = spare_graph.store(f"contract_{uuid.uuid4().hex[:8]}")
    kept = node(labels=["kept"])
    other = node()
    adapter.upsert_nodes(T1, [kept, other])
    assert adapter.upsert_edges(T1, [link := edge(kept, other)]) == 1

    spare_graph.stop()
    with pytest.raises(GraphStoreUnavailable, match="FalkorDB"):
        adapter.expand(T1, [kept["id"]], limit=10)
    with pytest.raises(GraphStoreUnavailable, match="FalkorDB"):
        adapter.ping()
    with pytest.raises(GraphStoreUnavailable):
        adapter.upsert_nodes(T1, [node()])
    with pytest.raises(GraphStoreUnavailable):
        adapter.counts(T1)

    spare_graph.start()
    # The same client reconnects by itself: no retry needed, and the data survived the restart (AOF).
    adapter.ping()
    assert adapter.nodes_in_bucket(T1, kept["bucket"]) == [node_tuple(kept)]
    assert adapter.expand(T1, [kept["id"]], limit=10) == [
        Step(link["id"], "knows", kept["id"], other["id"], kept["id"], other["id"])
    ]
    assert adapter.counts(T1) == (2, 1)
