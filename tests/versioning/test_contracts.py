"""The contract checks catch a deliberately broken schema and a bad safelist."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from graphql import build_schema

from apps.versioning.contracts import safelist_problems, schema_compare
from intelgraph.schema import schema

COMMITTED = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()


@pytest.mark.django_db
def test_committed_schema_passes():
    assert schema_compare(committed_sdl=COMMITTED, live=schema.graphql_schema).ok
    call_command("schema_check")
    call_command("safelist_verify")


def test_removing_a_field_is_breaking_and_recording_it_allows_it():
    # Given a live schema that dropped SearchHit.snippet
    import re

    without = re.sub(r'\n  """\n  Matching words in context[^"]*"""\n  snippet: String\n', "\n", COMMITTED, count=1)
    assert without != COMMITTED
    broken = build_schema(without)
    report = schema_compare(committed_sdl=COMMITTED, live=broken)
    assert not report.ok
    assert any("SearchHit.snippet was removed" in line for line in report.breaking)
    allowed = schema_compare(committed_sdl=COMMITTED, live=broken, allowed={"SearchHit.snippet was removed."})
    assert allowed.ok and allowed.allowed


@pytest.mark.django_db
def test_schema_check_command_fails_on_a_broken_committed_schema(tmp_path):
    # A committed schema with a field the server no longer has is what a removal looks like
    changed = tmp_path / "schema.graphql"
    changed.write_text(
        COMMITTED.replace("type SearchHit {", 'type SearchHit {\n  """gone"""\n  legacyScore: Float\n', 1)
    )
    with pytest.raises(CommandError, match=r"SearchHit\.legacyScore was removed"):
        call_command("schema_check", committed=str(changed))


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
    import datetime as dt
    import re

    from apps.versioning.contracts import removable_fields
    from apps.versioning.models import DeprecatedFieldUsage

    without_value = re.sub(
        r'\n  """The value as text\. Replaced by text\."""\n  value: String @deprecated.*\n', "\n", COMMITTED
    )
    assert without_value != COMMITTED
    live = build_schema(without_value)
    # Past EOL (2026-03-31) and never used: the removal passes
    assert schema_compare(
        committed_sdl=COMMITTED, live=live, removable=removable_fields(today=dt.date(2026, 11, 26))
    ).ok
    # Used ten days ago: not yet
    DeprecatedFieldUsage.objects.create(field="Attribute.value", client="old-app", day=dt.date(2026, 11, 16), count=4)
    report = schema_compare(committed_sdl=COMMITTED, live=live, removable=removable_fields(today=dt.date(2026, 11, 26)))
    assert not report.ok and "Attribute.value was removed" in report.breaking[0]
    # Before its EOL: not either, even unused
    assert "Attribute.value" not in removable_fields(today=dt.date(2026, 3, 1))
