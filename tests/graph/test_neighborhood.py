"""Neighbourhoods as an analyst sees them: hidden records cut paths, masked ones stay as stubs, pages and
budgets bound the answer, and PostgreSQL gives the same answer when the graph store is down."""

import uuid

import pytest

from apps.access.services import subject_for
from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.graph import selectors
from apps.graph.services import outbox_drain
from apps.graph.store import PostgresAdjacency, get_store
from tests import factories

pytestmark = pytest.mark.django_db


def link(tenant, kind, a, b, **kwargs):
    return services.relationship_create(tenant=tenant, kind=kind, from_entity=a, to_entity=b, **kwargs)


@pytest.fixture
def world(tenant_a, tenant_b):
    t = tenant_a
    e = {
        "A": factories.entity(tenant=t, name="Ada Seed"),
        "B": factories.entity(tenant=t, kind="organization", name="Secret Org", sensitivity=Sensitivity.SECRET),
        "C": factories.entity(tenant=t, kind="address", name="1 Behind Secret St"),
        "D": factories.entity(tenant=t, name="Top Secret Person", sensitivity=Sensitivity.TOP_SECRET),
        "E": factories.entity(tenant=t, kind="phone", name="+44 only via D"),
        "F": factories.entity(tenant=t, kind="account", name="ACC-1"),
        "H": factories.entity(tenant=t, kind="email", name="h@example.com"),
        "X": factories.entity(tenant=tenant_b, name="Bravo person"),
    }
    r = {
        "AB": link(t, "works_for", e["A"], e["B"]),
        "BC": link(t, "registered_at", e["B"], e["C"]),
        "AD": link(t, "associated_with", e["A"], e["D"]),
        "DE": link(t, "has_phone", e["D"], e["E"]),
        "AF": link(t, "transferred_to", e["F"], e["A"]),
        "AH": link(t, "has_email", e["A"], e["H"], sensitivity=Sensitivity.SECRET),
    }
    people = {
        "analyst": factories.user(tenant=t, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL),
        "reader": factories.user(tenant=t, role=Role.READER, clearance=Sensitivity.CONFIDENTIAL),
        "high": factories.user(tenant=t, role=Role.ANALYST, clearance=Sensitivity.TOP_SECRET),
        "outsider": factories.user(tenant=tenant_b, role=Role.ANALYST, clearance=Sensitivity.TOP_SECRET),
    }
    outbox_drain()
    return {"e": e, "r": r, "people": people}


def names(world, result):
    by_id = {str(v.pk): k for k, v in world["e"].items()}
    return {by_id[n.id]: ("masked" if n.masked else "visible", n.hop) for n in result.nodes}


def edge_names(world, result):
    by_id = {str(v.pk): k for k, v in world["r"].items()}
    return {by_id[e.id]: "masked" if e.masked else "visible" for e in result.edges}


def hood(world, who, seed="A", **kwargs):
    subject = subject_for(user=world["people"][who])
    return selectors.neighborhood(subject=subject, entity_id=world["e"][seed].pk, **kwargs)


def test_analyst_sees_masked_stubs_and_nothing_behind_hidden_records(world):
    result = hood(world, "analyst", hops=2)
    assert names(world, result) == {
        "A": ("visible", 0),
        "B": ("masked", 1),  # secret, one level above: a stub keeps the shape
        "F": ("visible", 1),
        "H": ("visible", 1),
        "C": ("visible", 2),  # behind a masked node: shown
        # D is top secret (two levels above): hidden, and E, reachable only through D, with it
    }
    assert edge_names(world, result) == {"AB": "visible", "BC": "visible", "AF": "visible", "AH": "masked"}
    stub = next(n for n in result.nodes if n.masked)
    assert (stub.kind, stub.reason, stub.label, stub.sensitivity, stub.labels) == (
        "organization",
        "CLEARANCE",
        None,
        None,
        None,
    )
    masked_edge = next(e for e in result.edges if e.masked)
    assert masked_edge.sensitivity is None and masked_edge.reason == "CLEARANCE"
    assert not result.truncated and not result.degraded and result.next_cursor is None


def test_reader_sees_edges_of_a_kind_their_role_may_not_as_stubs(world):
    result = hood(world, "reader", hops=1)
    assert edge_names(world, result)["AF"] == "masked"  # transferred_to: analysts and above
    edge = next(e for e in result.edges if e.id == str(world["r"]["AF"].pk))
    assert (edge.kind, edge.reason, edge.source, edge.target) == (
        "transferred_to",
        "EDGE_ROLE",
        str(world["e"]["F"].pk),
        str(world["e"]["A"].pk),
    )


def test_high_clearance_sees_everything(world):
    result = hood(world, "high", hops=2)
    assert set(names(world, result)) == {"A", "B", "C", "D", "E", "F", "H"}
    assert all(not n.masked for n in result.nodes)
    assert names(world, result)["E"] == ("visible", 2)


def test_filters_by_edge_kind_and_node_kind(world):
    assert set(names(world, hood(world, "high", hops=2, edge_kinds=["associated_with", "has_phone"]))) == {
        "A",
        "D",
        "E",
    }
    assert set(names(world, hood(world, "high", hops=1, node_kinds=["account", "email"]))) == {"A", "F", "H"}


@pytest.mark.parametrize(
    ("kwargs", "code", "text"),
    [
        ({"hops": 0}, "BAD_USER_INPUT", "hops must be 1, 2 or 3"),
        ({"hops": 4}, "BAD_USER_INPUT", "hops must be 1, 2 or 3"),
        ({"limit": 0}, "BAD_USER_INPUT", "limit must be between 1 and 1000"),
        ({"limit": 5000}, "BAD_USER_INPUT", "limit must be between 1 and 1000"),
        ({"edge_kinds": ["no_such_kind"]}, "BAD_USER_INPUT", "unknown edge kind 'no_such_kind'; known: "),
        ({"edge_kinds": ["DROP TABLE"]}, "BAD_USER_INPUT", "is not a kind name"),
        ({"node_kinds": ["spaceship"]}, "BAD_USER_INPUT", "unknown node kind 'spaceship'"),
        ({"after": "forged.cursor"}, "INVALID_CURSOR", "not one this server issued"),
    ],
)
def test_bad_input_is_a_clear_error(world, kwargs, code, text):
    with pytest.raises(selectors.GraphInputError) as caught:
        hood(world, "analyst", **kwargs)
    assert caught.value.code == code
    assert text in str(caught.value)


def test_unknown_and_foreign_ids_get_the_same_answer(world):
    subject = subject_for(user=world["people"]["analyst"])
    answers = []
    for entity_id in (uuid.uuid4(), world["e"]["X"].pk, world["e"]["D"].pk):  # unknown, other tenant, hidden
        with pytest.raises(selectors.GraphInputError) as caught:
            selectors.neighborhood(subject=subject, entity_id=entity_id)
        answers.append((caught.value.code, str(caught.value)))
    assert answers == [("NOT_FOUND", "No such entity.")] * 3
    with pytest.raises(selectors.GraphInputError, match="is not an entity id"):
        selectors.neighborhood(subject=subject, entity_id="not-a-uuid")


def test_an_outsider_cannot_expand_into_another_tenant(world):
    with pytest.raises(selectors.GraphInputError) as caught:
        hood(world, "outsider")
    assert caught.value.code == "NOT_FOUND"


@pytest.fixture
def hub(tenant_a):
    center = factories.entity(tenant=tenant_a, name="Hub")
    spokes = [factories.entity(tenant=tenant_a, kind="phone", name=f"+1 555 {i:04}") for i in range(25)]
    for spoke in spokes:
        link(tenant_a, "has_phone", center, spoke)
    user = factories.user(tenant=tenant_a, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL)
    outbox_drain()
    return subject_for(user=user), center


def test_pages_cover_the_neighbourhood_once(hub):
    subject, center = hub
    seen_nodes, seen_edges, after, pages = [], [], None, 0
    while True:
        page = selectors.neighborhood(subject=subject, entity_id=center.pk, limit=10, after=after)
        pages += 1
        seen_nodes += [n.id for n in page.nodes]
        seen_edges += [e.id for e in page.edges]
        assert page.truncated == (page.next_cursor is not None)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert pages == 3
    assert len(seen_nodes) == len(set(seen_nodes)) == 26
    assert len(seen_edges) == len(set(seen_edges)) == 25
    delivered = set()
    for node_id in seen_nodes:
        delivered.add(node_id)


def test_a_cursor_belongs_to_its_query(hub):
    subject, center = hub
    first = selectors.neighborhood(subject=subject, entity_id=center.pk, limit=10)
    with pytest.raises(selectors.GraphInputError) as caught:
        selectors.neighborhood(subject=subject, entity_id=center.pk, limit=10, hops=2, after=first.next_cursor)
    assert caught.value.code == "INVALID_CURSOR"


def test_the_expansion_budget_truncates_a_hub(hub, settings):
    settings.GRAPH_EXPANSION_BUDGET = 5
    subject, center = hub
    page = selectors.neighborhood(subject=subject, entity_id=center.pk, hops=2)
    assert page.budget_exhausted and page.truncated
    assert len(page.edges) == 5 and len(page.nodes) == 6
    assert page.next_cursor is None


def test_preview_counts_what_the_analyst_would_see(world):
    subject = subject_for(user=world["people"]["analyst"])
    preview = selectors.neighborhood_preview(subject=subject, entity_id=world["e"]["A"].pk)
    # B (masked), F, H (over a masked edge); D is hidden and not counted
    assert (preview.total, preview.masked) == (3, 2)
    assert {k.kind: k.count for k in preview.by_edge_kind} == {"works_for": 1, "transferred_to": 1, "has_email": 1}
    assert {k.kind: k.count for k in preview.by_node_kind} == {"organization": 1, "account": 1, "email": 1}


def test_graph_nodes_leave_out_hidden_and_foreign_ids(world):
    subject = subject_for(user=world["people"]["analyst"])
    ids = [world["e"][k].pk for k in ("A", "B", "D", "X")] + [uuid.uuid4()]
    nodes = selectors.graph_nodes(subject=subject, ids=[str(i) for i in ids])
    assert [(n.id, n.masked) for n in nodes] == [(str(world["e"]["A"].pk), False), (str(world["e"]["B"].pk), True)]


def test_postgres_gives_the_same_answers_as_the_graph_store(world, hub):
    for who, hops, kwargs in [
        ("analyst", 2, {}),
        ("high", 3, {}),
        ("reader", 2, {}),
        ("high", 2, {"node_kinds": ["phone", "person"]}),
    ]:
        subject = subject_for(user=world["people"][who])
        args = {"entity_id": world["e"]["A"].pk, "hops": hops, "node_kinds": kwargs.get("node_kinds"), "limit": 100}
        from_graph = selectors.neighborhood(subject=subject, store=get_store(), **args)
        from_pg = selectors.neighborhood(subject=subject, store=PostgresAdjacency(), **args)
        assert (from_graph.backend, from_pg.backend) == ("falkordb", "postgres")
        assert len(from_graph.nodes) > 1, who  # the walk reached past the seed
        assert [n.id for n in from_graph.nodes] == [n.id for n in from_pg.nodes]
        assert from_graph.nodes == from_pg.nodes and from_graph.edges == from_pg.edges
        assert from_graph.total_nodes == from_pg.total_nodes and from_graph.truncated == from_pg.truncated


def test_graph_store_down_answers_from_postgres(graph_on_spare, world, settings):
    outbox_drain()  # the spare store starts empty: project the world there
    live = hood(world, "analyst", hops=2)
    assert live.backend == "falkordb" and not live.degraded
    graph_on_spare.stop()
    down = hood(world, "analyst", hops=2)
    assert down.degraded and down.backend == "postgres"
    assert [(n.id, n.masked) for n in down.nodes] == [(n.id, n.masked) for n in live.nodes]
    assert {e.id for e in down.edges} == {e.id for e in live.edges}
    preview = selectors.neighborhood_preview(
        subject=subject_for(user=world["people"]["analyst"]), entity_id=world["e"]["A"].pk
    )
    assert preview.degraded and preview.total == 3


def test_a_store_down_from_the_start_still_answers(graph_on_spare, world):
    graph_on_spare.stop()  # never reached: the client cannot even be built
    result = hood(world, "analyst", hops=1)
    assert result.degraded and result.backend == "postgres"
    assert set(names(world, result)) == {"A", "B", "F", "H"}
