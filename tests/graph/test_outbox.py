"""The transactional outbox: written with the change, drained in order and idempotently, never lost while
the graph store is down, caught up by a real Celery worker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from apps.core import demo, services
from apps.core.choices import Sensitivity
from apps.core.models import Entity, Relationship, Tenant
from apps.graph.models import OutboxEvent
from apps.graph.services import drain_started, graph_rebuild, graph_verify, outbox_add, outbox_drain, outbox_lag
from apps.graph.store import GraphStoreUnavailable, get_store
from intelgraph.celery import app
from tests import factories


def pending(tenant):
    return list(OutboxEvent.objects.filter(tenant_id=tenant.pk).order_by("id").values_list("kind", "op"))


def projection_matches(tenant):
    report = graph_verify(tenant=tenant)
    return report.ok, report.differences


@pytest.mark.django_db
def test_each_write_adds_its_outbox_row_in_the_same_transaction(tenant_a):
    person = factories.entity(tenant=tenant_a, name="Ada")
    org = factories.entity(tenant=tenant_a, kind="organization", name="Engines Ltd")
    rel = services.relationship_create(tenant=tenant_a, kind="works_for", from_entity=person, to_entity=org)
    services.entity_update(entity=person, display_name="Ada L.")
    services.relationship_delete(relationship=rel)
    services.entity_delete(entity=org)
    assert pending(tenant_a) == [
        ("entity", "upsert"),
        ("entity", "upsert"),
        ("relationship", "upsert"),
        ("entity", "upsert"),
        ("relationship", "delete"),
        ("entity", "delete"),
    ]


@pytest.mark.django_db
def test_a_failed_or_rolled_back_write_leaves_no_outbox_row(tenant_a):
    with pytest.raises(Exception):  # noqa: B017 - any validation error
        services.entity_create(tenant=tenant_a, kind="spaceship", display_name="x")
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.entity(tenant=tenant_a, name="Doomed")
        raise RuntimeError("roll back")
    assert pending(tenant_a) == []


@pytest.mark.django_db
def test_drain_projects_changes_and_deletions(tenant_a):
    person = factories.entity(tenant=tenant_a, name="Ada")
    org = factories.entity(tenant=tenant_a, kind="organization", name="Engines Ltd")
    phone = factories.entity(tenant=tenant_a, kind="phone", name="+44 1")
    services.relationship_create(tenant=tenant_a, kind="works_for", from_entity=person, to_entity=org)
    doomed = services.relationship_create(tenant=tenant_a, kind="has_phone", from_entity=person, to_entity=phone)
    result = outbox_drain()
    assert result.applied == 5 and result.remaining == 0
    assert get_store().counts(tenant_a.pk) == (3, 2)
    assert projection_matches(tenant_a) == (True, [])

    services.entity_update(entity=person, sensitivity=Sensitivity.SECRET, labels=["sanctions"])
    services.relationship_delete(relationship=doomed)
    services.entity_delete(entity=org)  # takes its works_for edge with it
    outbox_drain()
    assert get_store().counts(tenant_a.pk) == (2, 0)
    assert get_store().nodes_in_bucket(tenant_a.pk, person.pk.bytes[15])[0][2:4] == (3, ("sanctions",))
    assert projection_matches(tenant_a) == (True, [])


@pytest.mark.django_db
def test_draining_twice_or_late_changes_nothing(tenant_a):
    a = factories.entity(tenant=tenant_a, name="A")
    b = factories.entity(tenant=tenant_a, name="B")
    services.relationship_create(tenant=tenant_a, kind="associated_with", from_entity=a, to_entity=b)
    outbox_drain()
    # The same rows again (a retried batch), and a stale upsert of an entity deleted since.
    outbox_add(tenant_id=tenant_a.pk, kind="entity", ids=[a.pk, b.pk])
    c = factories.entity(tenant=tenant_a, name="C")
    c_id = c.pk
    services.entity_delete(entity=c)
    outbox_add(tenant_id=tenant_a.pk, kind="entity", ids=[c_id])
    outbox_drain()
    outbox_drain()
    assert get_store().counts(tenant_a.pk) == (2, 1)
    assert projection_matches(tenant_a) == (True, [])


@pytest.mark.django_db
def test_graph_store_down_loses_nothing_and_the_outbox_catches_up(graph_on_spare, tenant_a):
    a = factories.entity(tenant=tenant_a, name="Before")
    outbox_drain()
    graph_on_spare.stop()
    b = factories.entity(tenant=tenant_a, name="During")
    services.relationship_create(tenant=tenant_a, kind="associated_with", from_entity=a, to_entity=b)
    services.entity_update(entity=a, display_name="Before, renamed")
    with pytest.raises(GraphStoreUnavailable):
        outbox_drain()
    rows = list(OutboxEvent.objects.filter(tenant_id=tenant_a.pk).values_list("attempts", "last_error"))
    assert len(rows) == 3
    assert all(attempts == 1 and "FalkorDB" in error for attempts, error in rows)
    assert outbox_lag()["pending"] >= 3

    graph_on_spare.start()  # same data directory: what it had before is back (AOF)
    result = outbox_drain()
    assert result.applied == 3 and result.remaining == 0
    assert get_store().counts(tenant_a.pk) == (2, 1)
    assert projection_matches(tenant_a) == (True, [])


@pytest.mark.django_db
def test_rebuild_drops_contained_rows_and_keeps_later_ones(tenant_a):
    for i in range(3):
        factories.entity(tenant=tenant_a, name=f"E{i}")
    assert len(pending(tenant_a)) == 3
    result = graph_rebuild(tenant=tenant_a)
    assert (result.nodes, result.edges, result.outbox_cleared) == (3, 0, 3)
    assert pending(tenant_a) == []
    factories.entity(tenant=tenant_a, name="After")
    assert len(pending(tenant_a)) == 1


@pytest.mark.django_db
def test_verify_names_what_differs(tenant_a):
    kept = factories.entity(tenant=tenant_a, name="Kept")
    lost = factories.entity(tenant=tenant_a, name="Lost")
    changed = factories.entity(tenant=tenant_a, name="Changed")
    outbox_drain()
    get_store().delete_nodes(tenant_a.pk, [lost.pk])
    Entity.objects.filter(pk=changed.pk).update(sensitivity=Sensitivity.TOP_SECRET)  # behind the outbox's back
    report = graph_verify(tenant=tenant_a)
    assert not report.ok
    assert {(d.id, d.problem) for d in report.differences} == {
        (str(lost.pk), "missing in graph"),
        (str(changed.pk), "differs"),
    }
    assert str(kept.pk) not in {d.id for d in report.differences}


@pytest.mark.django_db
def test_bulk_paths_write_the_outbox_too():
    demo.demo_seed(slugs=["bulk-outbox"], entities=200, seed=5)
    tenant = Tenant.objects.get(slug="bulk-outbox")
    entities = Entity.objects.filter(tenant=tenant).count()
    relationships = Relationship.objects.filter(tenant=tenant).count()
    kinds = dict.fromkeys(("entity", "relationship"), 0)
    for kind, _ in pending(tenant):
        kinds[kind] += 1
    assert kinds == {"entity": entities, "relationship": relationships}
    outbox_drain()
    assert projection_matches(tenant) == (True, [])


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
def test_a_real_worker_drains_after_commit(tenant_a):
    app.control.purge()  # drain requests queued by earlier tests, and their flag
    drain_started()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        a = factories.entity(tenant=tenant_a, name="Committed")  # commit -> on_commit -> drain task
        deadline = time.monotonic() + 30
        while OutboxEvent.objects.filter(tenant_id=tenant_a.pk).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not OutboxEvent.objects.filter(tenant_id=tenant_a.pk).exists()
    assert get_store().nodes_in_bucket(tenant_a.pk, a.pk.bytes[15])[0][0] == str(a.pk)
