"""The one bulk write path (apps.core.bulk) and the transactional outbox every write fills (apps.core.outbox):
rows per record for every consumer, one audit event per bulk write, and nothing at all when a write fails."""

import itertools
import json
from collections import Counter

import pytest
from django.db import IntegrityError

from apps.audit.models import AuditEvent
from apps.core import demo, services
from apps.core.bulk import BulkWriteError, bulk_write
from apps.core.choices import ProvenanceMethod
from apps.core.ids import uuid7
from apps.core.importing import ImportRejected, entities_import
from apps.core.models import Entity, OutboxEvent, Provenance, Relationship, Tenant
from tests import factories

pytestmark = pytest.mark.django_db


def outbox_rows(tenant) -> Counter:
    """(consumer, kind, op) -> how many rows the tenant's writes left in the outbox."""
    rows = OutboxEvent.objects.filter(tenant_id=tenant.pk).values_list("consumer", "kind", "op")
    return Counter(rows)


def outbox_ids(tenant, consumer: str) -> list:
    return list(OutboxEvent.objects.filter(tenant_id=tenant.pk, consumer=consumer).values_list("object_id", flat=True))


def everything(tenant) -> dict:
    return {
        "entities": Entity.objects.filter(tenant=tenant).count(),
        "relationships": Relationship.objects.filter(tenant=tenant).count(),
        "provenance": Provenance.objects.filter(tenant=tenant).count(),
        "outbox": OutboxEvent.objects.filter(tenant_id=tenant.pk).count(),
        "audit": AuditEvent.objects.filter(tenant_id=tenant.pk).count(),
    }


def people(count: int) -> list[tuple]:
    return [
        (uuid7(), f"P{i}", "person", f"Person {i}", {"email": f"p{i}@example.org"}, 1, ["vip"] if i % 2 else [])
        for i in range(count)
    ]


# --------------------------------------------------------------------------- the bulk writer


def test_a_bulk_write_leaves_rows_provenance_outbox_rows_per_record_and_one_audit_event(tenant_a):
    # Given 30 new people and 29 links between them
    actor = factories.user(tenant=tenant_a)
    source = factories.source(tenant=tenant_a, name="batch")
    rows = people(30)
    links = [(uuid7(), None, "knows", a[0], b[0], {"since": 2020}, 1) for a, b in itertools.pairwise(rows)]
    before = everything(tenant_a)

    # When they are written in one bulk write
    with bulk_write(tenant=tenant_a, source=source, method=ProvenanceMethod.IMPORT, actor=actor) as write:
        write.entities_create(rows)
        write.relationships_create(links)
        write.provenance_add((row[0], None, ["email"], f"line {n}") for n, row in enumerate(rows))
        write.audit_record("test.bulk_written", target=source, payload={"entities": len(rows)})

    # Then the rows are there with their fields
    ada = Entity.objects.get(tenant=tenant_a, external_id="P1")
    assert (ada.display_name, ada.attributes, ada.labels, ada.sensitivity) == (
        "Person 1",
        {"email": "p1@example.org"},
        ["vip"],
        1,
    )
    assert Relationship.objects.filter(tenant=tenant_a, kind="knows").count() == 29
    provenance = Provenance.objects.get(entity=ada)
    assert (provenance.record_ref, provenance.fields, provenance.actor, provenance.method) == (
        "line 1",
        ["email"],
        actor,
        "import",
    )
    # and every record has its outbox row for the graph, every entity one for online ER, in the order written
    assert outbox_rows(tenant_a) == {
        ("graph", "entity", "upsert"): 30,
        ("graph", "relationship", "upsert"): 29,
        ("er", "entity", "upsert"): 30,
    }
    assert outbox_ids(tenant_a, "er") == [row[0] for row in rows]
    # and the whole write is one audit event
    events = list(AuditEvent.objects.filter(tenant_id=tenant_a.pk).order_by("seq")[before["audit"] :])
    assert [(e.event_type, e.payload, e.actor) for e in events] == [("test.bulk_written", {"entities": 30}, actor)]


def test_updates_go_through_the_outbox_too(tenant_a):
    source = factories.source(tenant=tenant_a, name="batch")
    rows = people(3)
    with bulk_write(tenant=tenant_a, source=source, method=ProvenanceMethod.IMPORT) as write:
        write.entities_create(rows)
        write.audit_record("test.created", payload={})
    OutboxEvent.objects.all().delete()

    with bulk_write(tenant=tenant_a, source=source, method=ProvenanceMethod.IMPORT) as write:
        write.entities_update([(rows[0][0], "person", "Renamed", {"email": "new@example.org"}, 2, [])])
        write.audit_record("test.updated", payload={})

    renamed = Entity.objects.get(pk=rows[0][0])
    assert (renamed.display_name, renamed.attributes, renamed.sensitivity) == (
        "Renamed",
        {"email": "new@example.org"},
        2,
    )
    assert outbox_rows(tenant_a) == {("graph", "entity", "upsert"): 1, ("er", "entity", "upsert"): 1}


@pytest.mark.parametrize("audits", [0, 2])
def test_a_bulk_write_without_exactly_one_audit_event_writes_nothing(tenant_a, audits):
    source = factories.source(tenant=tenant_a, name="batch")
    before = everything(tenant_a)
    with (
        pytest.raises(BulkWriteError, match="one audit event"),
        bulk_write(tenant=tenant_a, source=source, method=ProvenanceMethod.IMPORT) as write,
    ):
        write.entities_create(people(5))
        for _ in range(audits):
            write.audit_record("test.bulk_written", payload={})
    assert everything(tenant_a) == before


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda rows: (uuid7(), None, "knows", rows[0][0], uuid7(), {}, 1), id="link to nowhere"),
        pytest.param(lambda rows: (uuid7(), None, "knows", rows[0][0], rows[1][0], {}, 9), id="sensitivity 9"),
        pytest.param(lambda rows: (uuid7(), None, "knows", rows[0][0], rows[0][0], {}, 1), id="self loop"),
    ],
)
def test_a_bad_row_anywhere_leaves_nothing_of_the_write(tenant_a, bad):
    # Given a write whose entities are fine but whose last relationship the database refuses
    source = factories.source(tenant=tenant_a, name="batch")
    rows = people(4)
    before = everything(tenant_a)

    # When it is written, Then it fails as a database error, and no entity, outbox row or audit event is left
    with (
        pytest.raises(IntegrityError),
        bulk_write(tenant=tenant_a, source=source, method=ProvenanceMethod.IMPORT) as write,
    ):
        write.entities_create(rows)
        write.relationships_create([(uuid7(), None, "knows", rows[0][0], rows[1][0], {}, 1), bad(rows)])
        write.audit_record("test.bulk_written", payload={})
    assert everything(tenant_a) == before


@pytest.mark.parametrize(
    ("columns", "row", "message"),
    [
        (("kind", "id"), ("person", uuid7()), "start with id"),
        (("id", "kind", "display_name", "merged_into"), (uuid7(), "person", "Ada", None), "hold only"),
        # COPY bypasses model defaults: leaving a NOT NULL column out is refused before anything is written
        (("id", "kind", "display_name", "attributes", "sensitivity"), (uuid7(), "person", "Ada", {}, 1), "labels"),
    ],
)
def test_rows_must_fit_the_writers_layout(tenant_a, columns, row, message):
    source = factories.source(tenant=tenant_a, name="batch")
    with (
        pytest.raises(BulkWriteError, match=message),
        bulk_write(tenant=tenant_a, source=source, method=ProvenanceMethod.IMPORT) as write,
    ):
        write.entities_create([row], columns=columns)
    assert everything(tenant_a)["entities"] == 0


# --------------------------------------------------------------------------- the single-record services


def test_single_writes_fill_the_same_outbox(tenant_a):
    ada = factories.entity(tenant=tenant_a, name="Ada")
    org = factories.entity(tenant=tenant_a, kind="organization", name="Engines Ltd")
    org_id = org.pk  # delete() clears it
    link = services.relationship_create(tenant=tenant_a, kind="works_for", from_entity=ada, to_entity=org)
    services.entity_update(entity=ada, display_name="Ada L.")
    services.relationship_delete(relationship=link)
    services.entity_delete(entity=org)
    # online ER reads created or changed entities; the graph reads every change
    assert outbox_rows(tenant_a) == {
        ("graph", "entity", "upsert"): 3,
        ("graph", "relationship", "upsert"): 1,
        ("graph", "relationship", "delete"): 1,
        ("graph", "entity", "delete"): 1,
        ("er", "entity", "upsert"): 3,
    }
    assert outbox_ids(tenant_a, "er") == [ada.pk, org_id, ada.pk]


# --------------------------------------------------------------------------- the importer and the demo loader


def test_an_import_leaves_outbox_rows_for_what_it_created_or_changed(tenant_a, tmp_path):
    path = tmp_path / "people.jsonl"
    lines = [
        {"external_id": "P1", "kind": "person", "name": "Ada"},
        {"external_id": "P2", "kind": "person", "name": "Bob"},
        {"type": "relationship", "kind": "knows", "from": "P1", "to": "P2"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert outbox_rows(tenant_a) == {
        ("graph", "entity", "upsert"): 2,
        ("graph", "relationship", "upsert"): 1,
        ("er", "entity", "upsert"): 2,
    }
    OutboxEvent.objects.all().delete()

    # the same file with one entity changed: only that one is in the outbox
    lines[1]["name"] = "Robert"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    bob = Entity.objects.get(tenant=tenant_a, external_id="P2")
    assert outbox_ids(tenant_a, "er") == outbox_ids(tenant_a, "graph") == [bob.pk]


def test_a_rejected_import_leaves_no_outbox_row_or_audit_event(tenant_a, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"external_id": "P1", "kind": "person", "name": "Ada"})
        + "\n"
        + json.dumps({"external_id": "P2", "kind": "spaceship", "name": "Zed"})
        + "\n"
    )
    before = everything(tenant_a)
    with pytest.raises(ImportRejected):
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert everything(tenant_a) == before


def test_a_demo_load_leaves_outbox_rows_per_record_and_one_audit_event_per_tenant():
    result = demo.demo_seed(slugs=["bulk-demo"], entities=300, seed=4, batch_size=100)[0]
    tenant = Tenant.objects.get(slug="bulk-demo")
    assert outbox_rows(tenant) == {
        ("graph", "entity", "upsert"): result.entity_total,
        ("graph", "relationship", "upsert"): result.relationship_total,
        ("er", "entity", "upsert"): result.entity_total,
    }
    assert sorted(outbox_ids(tenant, "er")) == sorted(Entity.objects.filter(tenant=tenant).values_list("pk", flat=True))
    events = list(AuditEvent.objects.filter(tenant_id=tenant.pk).values_list("event_type", flat=True))
    assert Counter(events) == {"tenant.created": 1, "demo.seeded": 1}


def test_every_outbox_consumer_names_a_task_the_workers_know():
    # Core names its consumers' tasks as strings (they sit above it): a renamed task must fail here, not in production
    from apps.core.outbox import CONSUMERS
    from intelgraph.celery import app

    app.loader.import_default_modules()
    assert {consumer.task for consumer in CONSUMERS} <= set(app.tasks)
