"""Bulk import of entities and relationships: all or nothing, updates in place, the same trail as the services."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models.fields import AutoFieldMixin

from apps.audit.models import AuditEvent
from apps.core import importing
from apps.core.importing import MAX_ERRORS, ImportFailed, ImportFileError, ImportRejected, entities_import
from apps.core.models import Entity, Provenance, Relationship, Source
from tests import factories

pytestmark = pytest.mark.django_db


def write_jsonl(path, *records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def person(external_id, name, **extra):
    return {"external_id": external_id, "kind": "person", "name": name, **extra}


def link(kind, source, target, **extra):
    return {"type": "relationship", "kind": kind, "from": source, "to": target, **extra}


def row_counts():
    return {model.__name__: model.objects.count() for model in (Entity, Relationship, Provenance, Source, AuditEvent)}


def test_jsonl_import_creates_entities_relationships_provenance_and_one_audit_event(tenant_a, tmp_path):
    # Given a file with two entities (one with labels and a named sensitivity) and a relationship between them
    actor = factories.user(tenant=tenant_a)
    path = write_jsonl(
        tmp_path / "people.jsonl",
        person("P1", "Ada Lovelace", attributes={"dob": "1815-12-10"}, sensitivity="confidential", labels=["vip"]),
        "",
        {"type": "entity", "external_id": "O1", "kind": "organization", "name": "Analytical Engines Ltd"},
        link("works_for", "P1", "O1", attributes={"since": 1842}, external_id="R1"),
    )
    # seq comes from a sequence (rolled-back appends use numbers too): start after the highest one
    events_before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    # When it is imported
    report = entities_import(tenant=tenant_a, path_or_stream=path, actor=actor)

    # Then the rows exist with the file's fields
    ada = Entity.objects.get(tenant=tenant_a, external_id="P1")
    assert (ada.kind, ada.display_name, ada.attributes) == ("person", "Ada Lovelace", {"dob": "1815-12-10"})
    assert (ada.sensitivity, ada.labels) == (2, ["vip"])
    org = Entity.objects.get(tenant=tenant_a, external_id="O1")
    assert org.sensitivity == 1  # internal by default
    rel = Relationship.objects.get(tenant=tenant_a, external_id="R1")
    assert (rel.from_entity, rel.to_entity, rel.kind, rel.attributes) == (ada, org, "works_for", {"since": 1842})
    assert (report.entities.created, report.relationships.created) == (2, 1)
    # and one provenance row per record, pointing at its line in the file
    source = Source.objects.get(tenant=tenant_a, name="people.jsonl")
    assert source.kind == "import" and source.uri == str(path)
    refs = {(p.entity_id or p.relationship_id): p for p in Provenance.objects.filter(source=source)}
    assert len(refs) == 3
    assert (refs[ada.pk].record_ref, refs[ada.pk].fields, refs[ada.pk].method) == ("people.jsonl:1", ["dob"], "import")
    assert refs[org.pk].record_ref == "people.jsonl:3"
    assert (refs[rel.pk].record_ref, refs[rel.pk].fields) == ("people.jsonl:4", ["since"])
    assert refs[ada.pk].actor == actor
    # and exactly one audit event, carrying the counts and the file's hash
    events = list(AuditEvent.objects.filter(seq__gt=events_before))
    assert [e.event_type for e in events] == ["entities.imported"]
    payload = events[0].payload
    assert payload["entities"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert payload["relationships"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert payload["sha256"] == report.sha256 and len(report.sha256) == 64
    assert events[0].tenant_id == tenant_a.pk and events[0].actor == actor


def test_reimport_updates_changed_attribute_without_duplicating(tenant_a, tmp_path):
    # Given a file imported once
    first = [
        person("P1", "Ada", attributes={"dob": "1815", "city": "London"}, sensitivity=3),
        person("P2", "Charles"),
        link("knows", "P1", "P2", attributes={"since": 1833}),
    ]
    entities_import(tenant=tenant_a, path_or_stream=write_jsonl(tmp_path / "a.jsonl", *first), actor=None)
    ada_before = Entity.objects.get(external_id="P1")

    # When a corrected file is imported: one attribute changed, sensitivity left out, the rest the same
    second = [
        person("P1", "Ada", attributes={"dob": "1815-12-10"}),
        person("P2", "Charles"),
        link("knows", "P1", "P2", attributes={"since": 1834}),
    ]
    report = entities_import(tenant=tenant_a, path_or_stream=write_jsonl(tmp_path / "a.jsonl", *second), actor=None)

    # Then the same rows are updated, not duplicated
    assert Entity.objects.filter(tenant=tenant_a).count() == 2
    assert Relationship.objects.filter(tenant=tenant_a).count() == 1
    assert (report.entities.created, report.entities.updated, report.entities.unchanged) == (0, 1, 1)
    assert (report.relationships.created, report.relationships.updated) == (0, 1)
    ada = Entity.objects.get(external_id="P1")
    assert ada.pk == ada_before.pk
    # the given attribute changed, the one not in the file is kept, and the omitted sensitivity is not lowered
    assert ada.attributes == {"dob": "1815-12-10", "city": "London"}
    assert ada.sensitivity == 3
    assert ada.updated_at > ada_before.updated_at
    assert Relationship.objects.get().attributes == {"since": 1834}
    # and the update has its own provenance row; the unchanged entity has none
    refs = sorted(Provenance.objects.filter(entity=ada).values_list("record_ref", flat=True))
    assert refs == ["a.jsonl:1", "a.jsonl:1"]
    assert Provenance.objects.filter(entity__external_id="P2").count() == 1


def test_reimport_of_the_same_file_changes_nothing(tenant_a, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", person("P1", "Ada", attributes={"n": 1}), person("P2", "Bob"))
    entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    provenance_before = Provenance.objects.count()

    report = entities_import(tenant=tenant_a, path_or_stream=path, actor=None)

    assert (report.entities.created, report.entities.updated, report.entities.unchanged) == (0, 0, 2)
    assert Provenance.objects.count() == provenance_before


def test_a_type_change_inside_json_counts_as_a_change(tenant_a, tmp_path):
    # Given an attribute stored as the number 1
    entities_import(
        tenant=tenant_a,
        path_or_stream=write_jsonl(tmp_path / "a.jsonl", person("P1", "Ada", attributes={"flag": 1})),
        actor=None,
    )
    # When the file now says true (which Python's == holds equal to 1)
    path = write_jsonl(tmp_path / "a.jsonl", person("P1", "Ada", attributes={"flag": True}))
    report = entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    # Then it is an update
    assert report.entities.updated == 1
    assert Entity.objects.get().attributes == {"flag": True}


def test_relationship_without_external_id_is_matched_by_kind_and_ends(tenant_a, tmp_path):
    records = [person("P1", "Ada"), person("P2", "Bob"), link("knows", "P1", "P2")]
    entities_import(tenant=tenant_a, path_or_stream=write_jsonl(tmp_path / "a.jsonl", *records), actor=None)

    records[2] = link("knows", "P1", "P2", sensitivity="secret")
    report = entities_import(tenant=tenant_a, path_or_stream=write_jsonl(tmp_path / "a.jsonl", *records), actor=None)

    assert (report.relationships.created, report.relationships.updated) == (0, 1)
    assert Relationship.objects.get().sensitivity == 3


def test_malformed_file_is_rejected_whole_with_line_numbers(tenant_a, tmp_path):
    # Given a file whose good lines come first, then bad JSON (3), an unknown kind (5), a dangling end (6)
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        person("P1", "Ada"),
        person("P2", "Bob"),
        '{"external_id": "P3", "kind": "person", "name": ',
        link("knows", "P1", "P2"),
        {"external_id": "S1", "kind": "spaceship", "name": "Enterprise"},
        link("knows", "P1", "NOPE"),
    )
    before = row_counts()

    # When it is imported
    with pytest.raises(ImportRejected) as caught:
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)

    # Then every problem is reported by line, in line order
    errors = caught.value.errors
    assert [line for line, _ in errors] == [3, 5, 6]
    assert "invalid JSON" in errors[0][1]
    assert "spaceship" in errors[1][1] and errors[1][1].startswith("kind:")
    assert "'NOPE'" in errors[2][1] and errors[2][1].startswith("to:")
    # and nothing at all was written: no entity, relationship, provenance, source or audit event
    assert row_counts() == before


@pytest.mark.parametrize(
    ("records", "line", "fragment"),
    [
        ([person("P1", "Ada"), person("P1", "Ada again")], 2, "appears twice in the file (first on line 1)"),
        ([person("P1", "Ada"), link("knows", "P1", "P1")], 2, "same entity"),
        ([person("P1", "Ada", sensitivity="ultra")], 1, "sensitivity: Unknown sensitivity 'ultra'"),
        ([person("P1", "Ada", sensitivty=2)], 1, "unknown field(s) 'sensitivty'"),
        ([{"external_id": "P1", "kind": "person"}], 1, "name: A name is required."),
        ([{"kind": "person", "name": "Ada"}], 1, "external_id: required"),
        ([person("P1", "Ada", labels="vip")], 1, "labels: "),
        (["[1, 2]"], 1, "expected a JSON object, got an array"),
        (['{"external_id": "P1", "kind": "person", "name": "Ada", "attributes": {"x": NaN}}'], 1, "NaN"),
        (['{"external_id": "P1", "kind": "person", "name": "A\\u0000da"}'], 1, "\\u0000"),
        ([{"type": "edge", "kind": "knows"}], 1, "unknown type 'edge'"),
        ([link("Knows!", "A", "B")], 1, "kind: Relationship kind"),
        ([person("P1", "A"), person("P2", "B"), link("k", "P1", "P2"), link("k", "P1", "P2")], 4, "also on line 3"),
        ([""], 1, "no entities or relationships"),
        (
            [
                person("P1", "A"),
                person("P2", "B"),
                link("k", "P1", "P2", external_id="R"),
                link("j", "P2", "P1", external_id="R"),
            ],
            4,
            "external_id: 'R' appears twice in the file (first on line 3)",
        ),
        (
            [person("P1", "A", attributes={"x" * 101: 1})],
            1,
            "attributes: Attribute names must be non-empty strings of at most 100 characters",
        ),
    ],
)
def test_each_kind_of_problem_is_reported_at_its_line(tenant_a, tmp_path, records, line, fragment):
    path = write_jsonl(tmp_path / "f.jsonl", *records)
    with pytest.raises(ImportRejected) as caught:
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert any(n == line and fragment in message for n, message in caught.value.errors), caught.value.errors


def test_an_import_cannot_move_a_relationships_ends(tenant_a, tmp_path):
    records = [person("P1", "A"), person("P2", "B"), person("P3", "C"), link("knows", "P1", "P2", external_id="R1")]
    entities_import(tenant=tenant_a, path_or_stream=write_jsonl(tmp_path / "a.jsonl", *records), actor=None)

    records[3] = link("knows", "P1", "P3", external_id="R1")
    with pytest.raises(ImportRejected) as caught:
        entities_import(tenant=tenant_a, path_or_stream=write_jsonl(tmp_path / "a.jsonl", *records), actor=None)

    assert caught.value.errors == [(4, "relationship 'R1' links 'P1' -> 'P2'; an import cannot move its ends")]


def test_error_list_is_capped(tenant_a, tmp_path):
    path = write_jsonl(tmp_path / "f.jsonl", *["{oops"] * (MAX_ERRORS + 50))
    with pytest.raises(ImportRejected) as caught:
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert len(caught.value.errors) == MAX_ERRORS
    assert caught.value.more == 50 and caught.value.total == MAX_ERRORS + 50


def test_csv_import(tenant_a, tmp_path):
    # Given a CSV with the required columns, sensitivity, ;-separated labels and two attribute columns
    path = tmp_path / "people.csv"
    path.write_text(
        "external_id,kind,name,sensitivity,labels,dob,city\n"
        "P1,person,Ada Lovelace,confidential,vip; sanctions,1815-12-10,London\n"
        "\n"
        'O1,organization,"Engines, Ltd",,,,"Bath"\n',
        encoding="utf-8-sig",  # as spreadsheet programs save it, with a byte-order mark
    )

    # When it is imported
    report = entities_import(tenant=tenant_a, path_or_stream=path, actor=None)

    # Then each row is an entity; empty cells give no attribute and the default sensitivity
    assert report.entities.created == 2 and report.format == "csv"
    ada = Entity.objects.get(external_id="P1")
    assert (ada.display_name, ada.sensitivity, ada.labels) == ("Ada Lovelace", 2, ["sanctions", "vip"])
    assert ada.attributes == {"dob": "1815-12-10", "city": "London"}
    org = Entity.objects.get(external_id="O1")
    assert (org.display_name, org.attributes, org.sensitivity, org.labels) == ("Engines, Ltd", {"city": "Bath"}, 1, [])
    assert Provenance.objects.get(entity=org).record_ref == "people.csv:4"


def test_csv_problems_are_reported_by_line(tenant_a, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("external_id,kind,name\nP1,person,Ada\nP2,robot,R2\nP3,person\n")
    with pytest.raises(ImportRejected) as caught:
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert [line for line, _ in caught.value.errors] == [3, 4]


def test_csv_rows_must_fit_the_header(tenant_a, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("external_id,kind,name,\nP1,person,Ada,\nP2,person,Bob,oops\nP3,person,Cy,x,y\n")
    with pytest.raises(ImportRejected) as caught:
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert caught.value.errors == [
        (3, "a value is in a column that has no name in the header"),
        (4, "the row has 5 cells; the header has 4"),
    ]


def test_csv_without_a_required_column_is_rejected_at_the_header(tenant_a, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("id,kind,name\nP1,person,Ada\n")
    with pytest.raises(ImportRejected) as caught:
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert caught.value.errors[0][0] == 1 and "external_id" in caught.value.errors[0][1]


def test_format_is_detected_when_the_name_does_not_say(tenant_a, tmp_path):
    path = write_jsonl(tmp_path / "export.txt", person("P1", "Ada"))
    report = entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert report.format == "jsonl" and report.entities.created == 1


def test_tenant_isolation(tenant_a, tenant_b, tmp_path):
    # Given tenant B holds entities P1 and X9
    factories.entity(tenant=tenant_b, name="Bravo's Ada", external_id="P1", attributes={"b": "secret"})
    factories.entity(tenant=tenant_b, name="Bravo's X", external_id="X9")

    # When tenant A imports its own P1
    entities_import(tenant=tenant_a, path_or_stream=write_jsonl(tmp_path / "a.jsonl", person("P1", "Ada")), actor=None)

    # Then A gets a new entity and B's is untouched
    assert Entity.objects.get(tenant=tenant_b, external_id="P1").attributes == {"b": "secret"}
    assert Entity.objects.get(tenant=tenant_a, external_id="P1").display_name == "Ada"

    # And a relationship from A's P1 to X9, which only B has, is rejected rather than linked across tenants
    before = row_counts()
    path = write_jsonl(tmp_path / "b.jsonl", link("knows", "P1", "X9"))
    with pytest.raises(ImportRejected) as caught:
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert caught.value.errors == [(1, "to: no entity with external id 'X9' in this file or in tenant 'alpha'")]
    assert row_counts() == before


def test_relationship_may_point_at_an_entity_already_in_the_tenant(tenant_a, tmp_path):
    stored = factories.entity(tenant=tenant_a, name="Stored", external_id="S1")
    path = write_jsonl(tmp_path / "a.jsonl", person("P1", "Ada"), link("knows", "P1", "S1"))
    entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert Relationship.objects.get().to_entity == stored


def test_stream_input_and_progress(tenant_a):
    # Given an in-memory stream and a progress callback
    stream = StringIO(json.dumps(person("P1", "Ada")) + "\n" + json.dumps(person("P2", "Bob")) + "\n")
    calls = []
    report = entities_import(
        tenant=tenant_a,
        path_or_stream=stream,
        actor=None,
        source_name="feed",
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    assert report.entities.created == 2 and report.source.name == "feed"
    assert calls[-1] == ("writing", 2, 2)
    assert ("checking", 3, 3) in calls


def test_missing_file_is_a_file_error(tenant_a, tmp_path):
    with pytest.raises(ImportFileError, match="no such file"):
        entities_import(tenant=tenant_a, path_or_stream=tmp_path / "nope.jsonl", actor=None)


# --------------------------------------------------------------------------- the command


def test_command_prints_errors_as_file_line_message_and_fails(tenant_a, tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", person("P1", "Ada"), "{nope", person("P2", "Bob", kind="robot"))
    before = row_counts()
    err = StringIO()

    with pytest.raises(CommandError, match="rejected with 2 problem"):
        call_command("import_entities", str(path), "--tenant", "alpha", stdout=StringIO(), stderr=err)

    lines = err.getvalue().splitlines()
    assert lines[0].startswith(f"{path}:2: invalid JSON")
    assert lines[1].startswith(f"{path}:3: kind: Unknown kind 'robot'")
    assert row_counts() == before


def test_command_prints_a_summary(tenant_a, tmp_path):
    factories.user(tenant=tenant_a, username="importer")
    path = write_jsonl(tmp_path / "a.jsonl", person("P1", "Ada"), person("P2", "Bob"), link("knows", "P1", "P2"))
    out = StringIO()

    call_command(
        "import_entities", str(path), "--tenant", "alpha", "--actor", "importer", "--source", "crm", stdout=out
    )

    text = out.getvalue()
    assert "entities:      2 created, 0 updated, 0 unchanged" in text
    assert "relationships: 1 created, 0 updated, 0 unchanged" in text
    assert AuditEvent.objects.filter(event_type="entities.imported").get().actor.username == "importer"
    assert Source.objects.filter(tenant=tenant_a, name="crm").exists()


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["--tenant", "nope"], "no tenant with slug 'nope'"),
        (None, ["--tenant", "alpha", "--actor", "ghost"], "no user named 'ghost'"),
        ("missing", ["--tenant", "alpha"], "no such file"),
        ("directory", ["--tenant", "alpha"], "is a directory"),
        ("latin1", ["--tenant", "alpha"], "rejected with 1 problem"),
    ],
)
def test_command_refuses_clearly(tenant_a, tmp_path, setup, args, message):
    path = tmp_path / "in.jsonl"
    if setup is None:
        write_jsonl(path, person("P1", "Ada"))
    elif setup == "directory":
        path.mkdir()
    elif setup == "latin1":
        path.write_bytes(b'{"external_id": "P1", "kind": "person", "name": "Ada"}\n{"name": "Jos\xe9"}\n')
    err = StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("import_entities", str(path), *args, stdout=StringIO(), stderr=err)
    if setup == "latin1":
        assert err.getvalue().startswith(f"{path}:2: not UTF-8 text (byte 0xe9)")


def test_a_concurrent_write_of_the_same_external_id_fails_cleanly(tenant_a, tmp_path, monkeypatch):
    # Given someone creates P1 by hand after the file was checked but before it is written
    real = importing.source_get_or_create

    def create_p1_first(**kwargs):
        factories.entity(tenant=tenant_a, name="By hand", external_id="P1")
        return real(**kwargs)

    monkeypatch.setattr(importing, "source_get_or_create", create_p1_first)
    path = write_jsonl(tmp_path / "a.jsonl", person("P1", "Ada"))
    before = row_counts()

    # When the import writes, Then it stops with a clear message and leaves nothing behind
    with pytest.raises(ImportFailed, match="changed while importing"):
        entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert row_counts() == before


@pytest.mark.parametrize(
    ("model", "written"),
    [
        (Entity, {*importing.ENTITY_NEW, "tenant", "created_at", "updated_at"}),
        (Relationship, {*importing.RELATIONSHIP_NEW, "tenant", "created_at", "updated_at"}),
        (Provenance, {*importing.PROVENANCE_NEW, "tenant", "source", "method", "actor", "recorded_at"}),
    ],
)
def test_copy_writes_every_required_column(model, written):
    # COPY bypasses model defaults: a new NOT NULL field must be added to the importer too.
    required = {f.name for f in model._meta.concrete_fields if not f.null and not isinstance(f, AutoFieldMixin)}
    assert required <= written, f"the importer does not write {sorted(required - written)}"
