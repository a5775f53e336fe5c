"""Published JSON Schemas (the search filters' grammar) only grow: schema_check fails on every narrowing."""

import copy
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.versioning.contracts import contract_check, json_schema_compare, json_schemas_compare
from apps.versioning.releases import ContractError, release_list, sha256_hex
from intelgraph.schema import schema
from tests.versioning.conftest import LIVE

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
PATH = "graphql/schemas/search-filters.v1.json"
REAL = json.loads((REPO / PATH).read_text())


def edited(change) -> dict:
    """A copy of the real search-filters.v1.json with ``change`` applied to it."""
    document = copy.deepcopy(REAL)
    change(document)
    return document


def breaks(new: dict, old: dict = REAL) -> list[str]:
    return json_schema_compare(label=PATH, old=old, new=new)


def schema_check() -> str:
    out = StringIO()
    call_command("schema_check", stdout=out)
    return out.getvalue()


@pytest.fixture
def published(contract_repo):
    """Given release 1.0.0 published the real search-filters.v1.json (committed beside schema.graphql)."""
    live = contract_repo.root / PATH
    live.parent.mkdir(parents=True)
    live.write_text((REPO / PATH).read_text())
    contract_repo.git("add", PATH)
    commit = contract_repo.commit_schema(LIVE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)
    snapshot = contract_repo.root / "graphql" / "releases" / "v1.0.0" / "search-filters.v1.json"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(live.read_bytes())
    releases_json = contract_repo.root / "graphql" / "releases.json"
    releases = json.loads(releases_json.read_text())
    releases["releases"][0]["json_schemas"] = [
        {
            "path": PATH,
            "snapshot": "graphql/releases/v1.0.0/search-filters.v1.json",
            "sha256": sha256_hex(snapshot.read_bytes()),
            "commit": commit,
        }
    ]
    releases_json.write_text(json.dumps(releases))
    return contract_repo


def _parent(document: dict, path: str):
    *parents, last = path.split("/")
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, int(last) if isinstance(node, list) else last


def _set(path: str, value):
    def change(document):
        node, key = _parent(document, path)
        node[key] = value

    return change


def _drop(path: str):
    def change(document):
        node, key = _parent(document, path)
        node.pop(key)

    return change


BREAKING = [
    (_drop("properties/kind"), "#/properties/kind: removed"),
    (lambda d: d["$defs"]["entityKind"]["enum"].remove("vehicle"), "#/$defs/entityKind/enum: value 'vehicle' removed"),
    (_set("required", ["kind"]), "#/required: gained 'kind'"),
    (_set("properties/attributes/additionalProperties", False), "#/properties/attributes/additionalProperties:"),
    (_set("properties/attributes/type", "array"), "#/properties/attributes/type: narrowed: no longer object"),
    (_set("$defs/sensitivityLevel/anyOf/0/minimum", 1), "#/$defs/sensitivityLevel/anyOf/0/minimum: tightened"),
    (_set("$defs/sensitivityLevel/anyOf/0/maximum", 3), "#/$defs/sensitivityLevel/anyOf/0/maximum: tightened"),
    (_set("properties/attributes/propertyNames/minLength", 2), "#/properties/attributes/propertyNames/minLength:"),
    (_set("$defs/tenantSlug/maxLength", 100), "#/$defs/tenantSlug/maxLength: tightened (200 -> 100)"),
    (_set("properties/kind/anyOf/1/minItems", 2), "#/properties/kind/anyOf/1/minItems: tightened (1 -> 2)"),
    (_set("properties/kind/anyOf/1/maxItems", 10), "#/properties/kind/anyOf/1/maxItems: tightened (None -> 10)"),
    (_set("$defs/instant/pattern", "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), "#/$defs/instant/pattern: changed"),
    (_drop("$defs/scalarRange"), "#/$defs/scalarRange: removed"),
    (_drop("properties/sensitivity/anyOf/2"), "#/properties/sensitivity/anyOf/2: branch removed"),
    (_set("properties/tenant/anyOf/0", {"type": "string", "maxLength": 50}), "#/properties/tenant/anyOf/0/"),
]


@pytest.mark.parametrize(("change", "expected"), BREAKING)
def test_each_narrowing_of_the_real_file_is_breaking_with_its_pointer(change, expected):
    found = breaks(edited(change))
    assert any(line.startswith(f"{PATH}{expected}") for line in found), found


def test_a_type_removed_from_a_list_and_a_oneof_losing_a_branch_are_breaking():
    # Given a release whose tenantSlug took a string or an integer, and whose sensitivity was a oneOf
    def released_shape(document):
        document["$defs"]["tenantSlug"]["type"] = ["string", "integer"]
        document["properties"]["sensitivity"]["oneOf"] = document["properties"]["sensitivity"].pop("anyOf")

    old = edited(released_shape)
    new = copy.deepcopy(old)
    new["$defs"]["tenantSlug"]["type"] = ["string"]
    new["properties"]["sensitivity"]["oneOf"].pop(1)
    assert breaks(new, old=old) == [
        f"{PATH}#/properties/sensitivity/oneOf/1: branch removed (no live branch accepts all it did)",
        f"{PATH}#/$defs/tenantSlug/type: narrowed: no longer integer",
    ]


def test_additions_and_loosenings_pass():
    def grow(document):
        document["properties"]["country"] = {"type": "string", "maxLength": 2}
        document["$defs"]["entityKind"]["enum"].append("vessel")
        document["$defs"]["country"] = {"type": "string"}
        document["properties"]["labels"]["anyOf"].insert(0, {"type": "integer"})
        document["$defs"]["tenantSlug"]["maxLength"] = 400
        document["$defs"]["tenantSlug"]["description"] = "A slug."
        document["$defs"]["scalar"]["anyOf"][1]["type"] = ["number", "null"]
        document["$defs"]["sensitivityLevel"]["anyOf"][0]["type"] = "number"
        document["$defs"]["sensitivityRange"]["additionalProperties"] = True
        del document["properties"]["attributes"]["minProperties"]

    assert breaks(edited(grow)) == []
    assert breaks(REAL) == []


def test_a_property_added_where_extra_keys_were_accepted_must_accept_what_they_could():
    # attributes accepted any name with a scalar or a range; a named key narrower than that is breaking
    narrower = edited(_set("properties/attributes/properties", {"city": {"type": "string"}}))
    assert breaks(narrower) == [
        f"{PATH}#/properties/attributes/properties/city/type: added ['string'] (any type was accepted)"
    ]


def test_an_unknown_keyword_refuses_the_check():
    with pytest.raises(ContractError, match=r"#/\$defs/instant/format: keyword 'format' is unknown"):
        breaks(edited(_set("$defs/instant/format", "date-time")))


def test_schema_check_fails_on_a_narrowed_live_file_listing_path_and_pointer(published):
    assert "schema check OK" in schema_check()
    # When the live file drops the kind filter
    (published.root / PATH).write_text(json.dumps(edited(_drop("properties/kind"))))
    with pytest.raises(CommandError) as failed:
        schema_check()
    message = str(failed.value)
    assert "breaking JSON Schema changes against release 1.0.0:\n  " in message
    assert f"{PATH}#/properties/kind: removed" in message
    assert "cannot waive" in message and "search-filters.v2.json" in message


def test_an_allowed_change_does_not_waive_a_json_schema_break(published):
    (published.root / PATH).write_text(json.dumps(edited(_drop("properties/kind"))))
    published.allow(
        {
            "description": f"{PATH}#/properties/kind: removed",
            "version": "2.0.0",
            "completes": "Attribute.value",
            "reason": "tried to waive it",
        }
    )
    report = contract_check(live=schema.graphql_schema)
    assert not report.ok and report.json_schemas == [f"{PATH}#/properties/kind: removed"]
    with pytest.raises(CommandError, match=r"properties/kind: removed"):
        schema_check()


def test_a_missing_live_file_is_breaking_and_a_new_version_beside_it_is_fine(published):
    v2 = published.root / "graphql" / "schemas" / "search-filters.v2.json"
    v2.write_text(json.dumps(edited(_drop("properties/kind"))))
    assert "schema check OK" in schema_check()
    (published.root / PATH).unlink()
    with pytest.raises(CommandError, match=rf"{PATH}: removed \(release 1\.0\.0 published it\)"):
        schema_check()


def test_an_unknown_keyword_in_the_live_file_refuses_in_one_line(published):
    (published.root / PATH).write_text(json.dumps(edited(_set("properties/kind/not", {"const": "x"}))))
    with pytest.raises(CommandError, match=r"^graphql/schemas/search-filters\.v1\.json#/properties/kind/not: keyword"):
        schema_check()


def test_an_edited_json_schema_snapshot_is_refused(published):
    snapshot = published.root / "graphql" / "releases" / "v1.0.0" / "search-filters.v1.json"
    # When someone widens the released snapshot to hide a narrowing
    snapshot.write_text(json.dumps(edited(_drop("properties/kind"))))
    with pytest.raises(
        CommandError, match=r"release 1\.0\.0: graphql/releases/v1\.0\.0/search-filters\.v1\.json has SHA"
    ):
        schema_check()


def test_a_json_schema_snapshot_that_is_not_its_commits_file_is_refused(published):
    snapshot = published.root / "graphql" / "releases" / "v1.0.0" / "search-filters.v1.json"
    snapshot.write_text(json.dumps(edited(_drop("properties/kind"))))
    releases_json = published.root / "graphql" / "releases.json"
    releases = json.loads(releases_json.read_text())
    releases["releases"][0]["json_schemas"][0]["sha256"] = sha256_hex(snapshot.read_bytes())
    releases_json.write_text(json.dumps(releases))
    with pytest.raises(CommandError, match=r"differs from graphql/schemas/search-filters\.v1\.json at commit"):
        schema_check()


def test_api_release_snapshots_every_json_schema_and_refuses_a_narrowing(contract_repo):
    live = contract_repo.root / PATH
    live.parent.mkdir(parents=True)
    live.write_text((REPO / PATH).read_text())
    contract_repo.git("add", PATH)
    contract_repo.commit_schema(LIVE)
    call_command("api_release", "1.0.0", stdout=StringIO())
    (entry,) = release_list()[-1].json_schemas
    assert entry.path == PATH and entry.snapshot == "graphql/releases/v1.0.0/search-filters.v1.json"
    assert (contract_repo.root / entry.snapshot).read_bytes() == live.read_bytes()
    assert entry.sha256 == sha256_hex(live.read_bytes()) and entry.commit == contract_repo.git("rev-parse", "HEAD")
    # When the next commit narrows the file
    live.write_text(json.dumps(edited(_drop("properties/kind"))))
    with pytest.raises(CommandError, match=r"search-filters\.v1\.json at [0-9a-f]{12} is not the live file"):
        call_command("api_release", "1.1.0", stdout=StringIO())
    contract_repo.git("add", PATH)
    contract_repo.git("commit", "-q", "-m", "narrow")
    with pytest.raises(CommandError, match=r"would narrow JSON Schemas 1\.0\.0 published .*properties/kind: removed"):
        call_command("api_release", "1.1.0", stdout=StringIO())


def test_the_real_release_records_the_real_file_and_it_passes():
    (entry,) = release_list()[-1].json_schemas
    assert entry.path == PATH
    assert sha256_hex((REPO / entry.snapshot).read_bytes()) == entry.sha256
    assert json_schemas_compare(release_list()[-1])[0] == []
    assert f"json schema: {PATH} against {entry.snapshot}" in schema_check()
