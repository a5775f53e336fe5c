"""The operators' graph commands: graph_rebuild, graph_verify, graph_drain and graph_schema.

Every test points the product's graph store at a private FalkorDB (``graph_on_spare``), so it may
rebuild, damage or stop it freely. Data is written through the domain services, which leave outbox
rows behind exactly as real writes do (the test transaction never commits, so no drain is queued).
"""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core import services as core
from apps.core.models import Entity
from apps.graph.models import OutboxEvent
from apps.graph.services import node_row
from apps.graph.store import get_store
from tests import factories

pytestmark = pytest.mark.django_db


def run(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **{"verbosity": 0, **options})
    return out.getvalue(), err.getvalue()


def verify_fails(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("graph_verify", *args, stdout=out, stderr=err, verbosity=0)
    assert exited.value.code == 1
    return out.getvalue(), err.getvalue()


@pytest.fixture
def world(db):
    """A tenant with three entities and two relationships, written through the services (5 outbox rows)."""
    tenant = factories.tenant("graphops")
    ada = factories.entity(tenant=tenant, name="Ada", labels=["vip", "pep"])
    acme = factories.entity(tenant=tenant, kind="organization", name="Acme", sensitivity=2)
    bob = factories.entity(tenant=tenant, name="Bob")
    works = core.relationship_create(tenant=tenant, kind="works_for", from_entity=ada, to_entity=acme)
    knows = core.relationship_create(tenant=tenant, kind="knows", from_entity=bob, to_entity=ada, sensitivity=3)
    assert OutboxEvent.objects.filter(tenant_id=tenant.pk).count() == 5
    return {"tenant": tenant, "ada": ada, "acme": acme, "bob": bob, "works": works, "knows": knows}


def test_rebuild_then_verify_matches(graph_on_spare, world):
    tenant = world["tenant"]
    out, _ = run("graph_rebuild", "--tenant", "graphops", verbosity=1)  # with the progress bar
    assert "graphops: 3 nodes and 2 edges in " in out
    assert "; 5 outbox rows already contained" in out
    assert OutboxEvent.objects.count() == 0
    assert get_store().counts(tenant.pk) == (3, 2)

    out, err = run("graph_verify", "--tenant", "graphops")
    assert "graph projection matches PostgreSQL" in out
    lines = out.splitlines()
    assert [line.split()[:4] for line in lines[:2]] == [
        ["graphops", "nodes", "postgres", "3"],
        ["graphops", "edges", "postgres", "2"],
    ]
    assert all(line.endswith("same") for line in lines[:2])
    assert "note:" not in out and "differs" not in out and err == ""


def test_rebuild_replaces_a_stale_projection_and_streams_in_batches(graph_on_spare, world):
    tenant = world["tenant"]
    stale = node_row(uuid.uuid4(), "person", 1, [], None)
    get_store().upsert_nodes(tenant.pk, [stale])
    for i in range(120):
        factories.entity(tenant=tenant, name=f"Bulk {i}")
    out, _ = run("graph_rebuild", "--tenant", "graphops", "--batch-size", "100")
    assert "graphops: 123 nodes and 2 edges in " in out
    assert "; 125 outbox rows already contained" in out
    assert get_store().counts(tenant.pk) == (123, 2)
    assert stale["id"] not in {row[0] for row in get_store().nodes_in_bucket(tenant.pk, stale["bucket"])}
    out, _ = run("graph_verify", "--tenant", "graphops")
    assert "graph projection matches PostgreSQL" in out


def test_rebuild_keeps_other_tenants_and_outbox_rows(graph_on_spare, world):
    other = factories.tenant("other")
    factories.entity(tenant=other, name="Elsewhere")
    out, _ = run("graph_rebuild", "--tenant", "graphops")
    assert "graphops: 3 nodes and 2 edges" in out
    assert "other" not in out
    assert OutboxEvent.objects.filter(tenant_id=other.pk).count() == 1
    assert get_store().counts(other.pk) == (0, 0)
    # Without --tenant every tenant is rebuilt.
    out, _ = run("graph_rebuild")
    assert "graphops: 3 nodes and 2 edges" in out and "other: 1 nodes and 0 edges" in out
    assert OutboxEvent.objects.count() == 0


def test_verify_lists_a_node_deleted_from_the_graph_as_missing(graph_on_spare, world):
    tenant, ada = world["tenant"], world["ada"]
    run("graph_rebuild", "--tenant", "graphops")
    get_store().delete_nodes(tenant.pk, [ada.pk])  # its two edges go with it
    out, err = verify_fails("--tenant", "graphops")
    assert f"  node {ada.pk}: missing in graph" in out.splitlines()
    assert f"  edge {world['works'].pk}: missing in graph" in out.splitlines()
    assert f"  edge {world['knows'].pk}: missing in graph" in out.splitlines()
    assert sum("missing in graph" in line for line in out.splitlines()) == 3
    assert "DIFFERENT" in out and "graph projection matches" not in out
    assert "projection differs from PostgreSQL for graphops" in err
    # A rebuild repairs it.
    run("graph_rebuild", "--tenant", "graphops")
    assert "graph projection matches PostgreSQL" in run("graph_verify", "--tenant", "graphops")[0]


def test_verify_lists_at_most_max_listed_records(graph_on_spare, world):
    tenant = world["tenant"]
    run("graph_rebuild", "--tenant", "graphops")
    get_store().delete_nodes(tenant.pk, [world["bob"].pk, world["acme"].pk])  # and both edges
    out, _ = verify_fails("--tenant", "graphops", "--max-listed", "1")
    listed = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(listed) == 2 and listed[-1] == "  … and 3 more"
    assert listed[0].endswith(": missing in graph")


def test_verify_lists_a_change_that_bypassed_the_outbox_as_differs(graph_on_spare, world):
    bob = world["bob"]
    run("graph_rebuild", "--tenant", "graphops")
    assert Entity.objects.filter(pk=bob.pk).update(sensitivity=4) == 1
    assert OutboxEvent.objects.count() == 0
    out, _ = verify_fails("--tenant", "graphops")
    differences = [line for line in out.splitlines() if line.startswith("  ")]
    assert differences == [f"  node {bob.pk}: differs"]


def test_verify_lists_a_node_only_in_the_graph_as_extra(graph_on_spare, world):
    tenant = world["tenant"]
    run("graph_rebuild", "--tenant", "graphops")
    ghost = node_row(uuid.uuid4(), "person", 1, [], None)
    get_store().upsert_nodes(tenant.pk, [ghost])
    out, _ = verify_fails("--tenant", "graphops")
    assert [line for line in out.splitlines() if line.startswith("  ")] == [f"  node {ghost['id']}: extra in graph"]


def test_verify_notes_undrained_outbox_rows(graph_on_spare, world):
    run("graph_rebuild", "--tenant", "graphops")
    late = factories.entity(tenant=world["tenant"], name="Late")
    out, _ = verify_fails("--tenant", "graphops")
    assert out.splitlines()[0] == "note: 1 outbox rows are not drained yet; they show as differences"
    assert f"  node {late.pk}: missing in graph" in out.splitlines()
    out, _ = run("graph_drain")
    assert out.strip() == "applied 1 outbox rows; 0 pending"
    assert "graph projection matches PostgreSQL" in run("graph_verify", "--tenant", "graphops")[0]


def test_drain_applies_what_the_services_wrote(graph_on_spare, world):
    tenant, ada, bob = world["tenant"], world["ada"], world["bob"]
    out, _ = run("graph_drain")
    assert out.strip() == "applied 5 outbox rows; 0 pending"
    assert OutboxEvent.objects.count() == 0
    store = get_store()
    assert store.counts(tenant.pk) == (3, 2)
    assert (
        store.nodes_in_bucket(tenant.pk, node_row(ada.pk, "", 0, [], None)["bucket"]).count(
            (str(ada.pk), "person", 1, ("pep", "vip"), None)
        )
        == 1
    )
    assert "graph projection matches PostgreSQL" in run("graph_verify", "--tenant", "graphops")[0]

    core.entity_update(entity=bob, sensitivity=3)
    core.entity_delete(entity=ada)  # its relationships go too; the node's deletion takes its edges
    assert OutboxEvent.objects.count() == 2
    out, _ = run("graph_drain")
    assert out.strip() == "applied 2 outbox rows; 0 pending"
    assert store.counts(tenant.pk) == (2, 0)
    assert "graph projection matches PostgreSQL" in run("graph_verify", "--tenant", "graphops")[0]

    out, _ = run("graph_drain")
    assert out.strip() == "applied 0 outbox rows; 0 pending"


def test_drain_refuses_while_another_drainer_holds_the_lock(graph_on_spare, world):
    from django.db import connection

    from apps.graph.services import DRAIN_LOCK

    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [DRAIN_LOCK])
        with pytest.raises(CommandError, match="another drain or a rebuild is running"):
            run("graph_drain")
        assert OutboxEvent.objects.filter(attempts=0).count() == 5
        assert get_store().counts(world["tenant"].pk) == (0, 0)
    finally:
        other.close()  # ends the session, and its lock
    assert run("graph_drain")[0].strip() == "applied 5 outbox rows; 0 pending"


@pytest.mark.parametrize("command", ["graph_rebuild", "graph_verify", "graph_schema"])
def test_unknown_tenant_is_a_command_error(graph_on_spare, world, command):
    with pytest.raises(CommandError, match="unknown tenant 'nope'"):
        run(command, "--tenant", "graphops", "--tenant", "nope")
    assert get_store().counts(world["tenant"].pk) == (0, 0)


def test_rebuild_refuses_a_batch_size_out_of_range(graph_on_spare, world):
    for size in ("99", "100001"):
        with pytest.raises(CommandError, match="--batch-size must be between 100 and 100000"):
            run("graph_rebuild", "--batch-size", size)


@pytest.mark.parametrize("command", ["graph_rebuild", "graph_verify", "graph_drain", "graph_schema"])
def test_a_store_that_went_down_is_a_command_error(graph_on_spare, world, command):
    get_store().ping()  # the store was reached once (as in a running process), then goes away
    graph_on_spare.stop()
    with pytest.raises(CommandError, match="not reachable"):
        run(command)
    # Nothing was lost: the outbox rows are kept for the next drain.
    assert OutboxEvent.objects.count() == 5
    if command == "graph_drain":
        assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {1}
        assert all("FalkorDB" in e for e in OutboxEvent.objects.values_list("last_error", flat=True))
    graph_on_spare.start()
    out, _ = run("graph_drain")
    assert out.strip() == "applied 5 outbox rows; 0 pending"


@pytest.mark.parametrize("command", ["graph_rebuild", "graph_verify", "graph_drain", "graph_schema"])
def test_a_store_down_from_the_start_is_a_command_error(graph_on_spare, world, command):
    graph_on_spare.stop()
    with pytest.raises(CommandError, match="not reachable"):
        run(command)


def test_schema_runs_twice_cleanly(graph_on_spare, world):
    factories.tenant("second")
    for _ in range(2):
        out, err = run("graph_schema", "--tenant", "graphops")
        assert out.splitlines() == ["graphops: 4 index statements applied (falkordb)"] and err == ""
    for _ in range(2):
        out, _ = run("graph_schema")
        assert "graphops: 4 index statements applied (falkordb)" in out.splitlines()
        assert "second: 4 index statements applied (falkordb)" in out.splitlines()
    # The indexes do not get in the way of the data.
    run("graph_drain")
    assert get_store().counts(world["tenant"].pk) == (3, 2)
