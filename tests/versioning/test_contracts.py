"""The contract checks: breaking changes against the release, allowed changes, and a bad safelist."""

import datetime as dt
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from graphql import build_schema

from apps.versioning.contracts import (
    AllowedChange,
    allowance_check,
    change_subjects,
    contract_check,
    removable_fields,
    safelist_problems,
    schema_compare,
)
from apps.versioning.models import DeprecatedFieldUsage
from apps.versioning.releases import Release
from intelgraph.schema import schema
from tests.versioning.conftest import LIVE, WITH_LEGACY_SCORE, WITHOUT_VALUE

DEPRECATIONS = {
    "Attribute.value": {"eol": "2026-03-31", "replacement": "Attribute.text"},
    "Entity.later": {"eol": "2027-06-30", "replacement": "Entity.sooner"},
}
V1 = Release(version="1.0.0", api="v1", date="2026-01-15", commit="0" * 40, sdl="v1.graphql", sha256="0" * 64)
REMOVE_VALUE = {
    "description": "Attribute.value was removed.",
    "version": "2.0.0",
    "completes": "Attribute.value",
    "reason": "Attribute.text replaced it; its EOL was 2026-03-31.",
}


@pytest.mark.django_db
def test_the_live_schema_passes_against_the_newest_release():
    call_command("schema_check")
    call_command("safelist_verify")


def test_removing_a_field_is_breaking_and_recording_it_allows_it():
    # Given a live schema that dropped SearchHit.snippet
    without = re.sub(r'\n  """\n  Matching words in context[^"]*"""\n  snippet: String\n', "\n", LIVE, count=1)
    assert without != LIVE
    broken = build_schema(without)
    report = schema_compare(baseline_sdl=LIVE, live=broken)
    assert not report.ok and report.raw_breaking
    assert any("SearchHit.snippet was removed" in line for line in report.breaking)
    allowed = schema_compare(baseline_sdl=LIVE, live=broken, allowed={"SearchHit.snippet was removed."})
    assert allowed.ok and allowed.allowed and allowed.raw_breaking


@pytest.mark.django_db
def test_a_removal_fails_even_after_schema_graphql_is_regenerated(contract_repo):
    # Given release 1.0.0 had SearchHit.legacyScore, which the live schema dropped
    commit = contract_repo.commit_schema(WITH_LEGACY_SCORE, "release 1.0.0")
    contract_repo.record_release("1.0.0", commit=commit, sdl=WITH_LEGACY_SCORE)
    # When schema.graphql is regenerated from the live schema, as the drift test asks, and even committed
    contract_repo.commit_schema(LIVE, "regenerate schema.graphql")
    assert (contract_repo.root / "schema.graphql").read_text() == LIVE
    # Then the check still compares with the release and fails
    with pytest.raises(
        CommandError, match=r"against release 1\.0\.0:\n  FIELD_REMOVED: SearchHit\.legacyScore was removed"
    ):
        call_command("schema_check")


@pytest.mark.django_db
def test_schema_check_against_a_file_reports_its_removals(tmp_path):
    changed = tmp_path / "old.graphql"
    changed.write_text(WITH_LEGACY_SCORE)
    with pytest.raises(CommandError, match=r"SearchHit\.legacyScore was removed"):
        call_command("schema_check", against=str(changed))


def test_safelist_verify_reports_hash_validity_roles_and_tags(tmp_path):
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "bad.graphql").write_text("query Bad { search(q: 1) { nope } }")
    (tmp_path / "safelist.json").write_text(
        json.dumps(
            {
                "operations": [
                    {
                        "id": "bad:v1",
                        "file": "ops/bad.graphql",
                        "hash": "sha256-0",
                        "abac": ["entity.teleport"],
                        "roles": ["emperor"],
                    },
                    {"id": "bad:v1", "file": "ops/missing.graphql", "hash": "sha256-0", "abac": [], "roles": []},
                ]
            }
        )
    )
    problems = "\n".join(safelist_problems(live=schema.graphql_schema, path=str(tmp_path / "safelist.json")))
    for fragment in (
        "does not match",
        "invalid against the live schema",
        "unknown role 'emperor'",
        "unknown ABAC tag 'entity.teleport'",
        "duplicate id",
        "document not readable",
        "no ABAC tag",
    ):
        assert fragment in problems
    with pytest.raises(CommandError, match="safelist problems"):
        call_command("safelist_verify", safelist=str(tmp_path / "safelist.json"))


@pytest.mark.django_db
def test_removing_a_deprecated_field_needs_eol_and_a_quiet_period():
    live = build_schema(WITHOUT_VALUE)
    # Past EOL (2026-03-31) and never used: the removal passes
    assert schema_compare(baseline_sdl=LIVE, live=live, removable=removable_fields(today=dt.date(2026, 11, 26))).ok
    # Used ten days ago: not yet
    DeprecatedFieldUsage.objects.create(field="Attribute.value", client="old-app", day=dt.date(2026, 11, 16), count=4)
    report = schema_compare(baseline_sdl=LIVE, live=live, removable=removable_fields(today=dt.date(2026, 11, 26)))
    assert not report.ok and "Attribute.value was removed" in report.breaking[0]
    # Before its EOL: not either, even unused
    assert "Attribute.value" not in removable_fields(today=dt.date(2026, 3, 1))


# --------------------------------------------------------------------------- allowed breaking changes


def check(*entries, releases=(V1,), today=dt.date(2026, 12, 1)):
    return allowance_check(
        entries=[
            AllowedChange(
                index=i,
                description=e.get("description", ""),
                version=e.get("version"),
                completes=e.get("completes"),
                reason=e.get("reason"),
            )
            for i, e in enumerate(entries)
        ],
        releases=list(releases),
        deprecations=DEPRECATIONS,
        today=today,
    )


def test_a_sound_allowed_change_names_the_next_major_and_a_deprecation_past_its_eol():
    result = check(REMOVE_VALUE)
    assert result.errors == [] and result.allowed == {"Attribute.value was removed."}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"version": None}, "no version"),
        ({"version": "2"}, "is not a version MAJOR.MINOR.PATCH"),
        ({"version": "1.4.0"}, "version 1.4.0 is not a later major than release 1.0.0"),
        ({"version": "0.9.0"}, "version 0.9.0 is not a later major than release 1.0.0"),
        ({"completes": None}, "completes no deprecation"),
        ({"completes": "Entity.gone"}, "completes 'Entity.gone', which is not in the deprecation registry"),
        (
            {"completes": "Entity.later", "description": "Entity.later was removed."},
            "completes Entity.later, whose end of life (2027-06-30) has not passed",
        ),
        ({"description": "SearchHit.snippet was removed."}, "the change is not about Attribute.value"),
        ({"description": "Attribute was removed."}, "the change is not about Attribute.value"),
        ({"reason": ""}, "no reason"),
    ],
)
def test_an_allowed_change_that_breaks_a_rule_is_refused_naming_entry_and_rule(change, rule):
    result = check({**REMOVE_VALUE, **change})
    assert result.allowed == set() and result.errors
    assert all(error.startswith("allowed change 1 (") for error in result.errors)
    assert any(rule in error for error in result.errors), result.errors


def test_an_allowed_change_for_a_released_version_is_history_and_allows_nothing():
    v2 = Release(version="2.0.0", api="v2", date="2026-06-01", commit="1" * 40, sdl="v2.graphql", sha256="1" * 64)
    result = check(REMOVE_VALUE, releases=(V1, v2))
    assert result.errors == [] and result.allowed == set() and [e.version for e in result.shipped] == ["2.0.0"]


def test_change_subjects_name_the_field_an_argument_or_an_enum_value():
    assert change_subjects("Attribute.value was removed.") == {"Attribute.value"}
    assert change_subjects("Query.search arg q has changed type from String to String!.") == {
        "Query.search",
        "Query.search(q:)",
    }
    assert change_subjects("A required arg r on Query.search was added.") == {"Query.search", "Query.search(r:)"}
    assert change_subjects("OLD was removed from enum type Kind.") == {"Kind.OLD"}
    assert change_subjects("Old no longer implements interface Node.") == set()


@pytest.mark.django_db
def test_a_recorded_removal_completing_a_deprecation_passes_and_a_bare_description_does_not(contract_repo):
    # Given release 1.0.0 with Attribute.value, a live schema without it, and a client still using it
    commit = contract_repo.commit_schema(LIVE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)
    DeprecatedFieldUsage.objects.create(field="Attribute.value", client="old-app", day=dt.date.today(), count=1)
    live = build_schema(WITHOUT_VALUE)
    # A bare description, as the file used to accept, allows nothing and is refused
    contract_repo.allow({"description": "Attribute.value was removed."})
    report = contract_check(live=live)
    assert not report.ok and report.schema.breaking == ["FIELD_REMOVED: Attribute.value was removed."]
    assert "allowed change 1 ('Attribute.value was removed.'): no version" in report.allowance_errors[0]
    # Recorded with the major that ships it and the deprecation it completes: it passes
    contract_repo.allow(REMOVE_VALUE)
    report = contract_check(live=live)
    assert report.ok and report.schema.allowed == ["FIELD_REMOVED: Attribute.value was removed."]
    assert report.unmatched == []


@pytest.mark.django_db
def test_schema_check_refuses_a_bad_entry_and_warns_about_one_matching_nothing(contract_repo):
    commit = contract_repo.commit_schema(LIVE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)
    contract_repo.allow(REMOVE_VALUE)
    out = call_command_output("schema_check")
    assert "warning: allowed change 1 ('Attribute.value was removed.') matches no breaking change" in out
    contract_repo.allow({**REMOVE_VALUE, "version": "1.1.0"})
    with pytest.raises(CommandError, match=r"refused in graphql/allowed-changes.json:\n  allowed change 1 .*1\.1\.0"):
        call_command("schema_check")
    (contract_repo.root / "graphql" / "allowed-changes.json").write_text("{not json")
    with pytest.raises(CommandError, match=r"allowed-changes\.json: unreadable"):
        call_command("schema_check")


def call_command_output(*args, **options) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()
