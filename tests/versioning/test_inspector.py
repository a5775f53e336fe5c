"""graphql-inspector, run for real, and graphql-core agree on each kind of change; a disagreement fails the check."""

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from graphql import build_schema

from apps.versioning.contracts import contract_check, schema_compare
from apps.versioning.inspector import inspector_binary, inspector_diff, inspector_verdict
from apps.versioning.releases import ContractError
from tests.versioning.conftest import LIVE, WITH_LEGACY_SCORE

BASE = '''
"""The root."""
type Query {
  """An a."""
  a: String
  b(x: Int = 1): Int
  c(q: String): [Item]
  d: Shape
  e: Kind
  f: Node
  g: Old
}
input Filter { name: String }
type Item implements Node { id: ID! }
interface Node { id: ID! }
union Shape = Item | Old
type Old { id: ID! }
enum Kind { ONE TWO }
type Mutation { m(f: Filter): Int }
'''
BREAKING, SAFE = True, False
# (kind of change, the schema after it, whether it breaks clients)
CHANGES = [
    ("field removed", BASE.replace("  b(x: Int = 1): Int\n", ""), BREAKING),
    ("field type changed", BASE.replace("  a: String", "  a: Int"), BREAKING),
    ("list field became a single value", BASE.replace("[Item]", "Item"), BREAKING),
    ("nullable output became non-null", BASE.replace("  a: String", "  a: String!"), SAFE),
    ("nullable argument became non-null", BASE.replace("c(q: String)", "c(q: String!)"), BREAKING),
    ("nullable input field became non-null", BASE.replace("{ name: String }", "{ name: String! }"), BREAKING),
    ("required argument added", BASE.replace("c(q: String)", "c(q: String, r: Int!)"), BREAKING),
    ("optional argument added", BASE.replace("c(q: String)", "c(q: String, r: Int)"), SAFE),
    ("argument removed", BASE.replace("c(q: String)", "c"), BREAKING),
    ("enum value removed", BASE.replace("enum Kind { ONE TWO }", "enum Kind { ONE }"), BREAKING),
    ("enum value added", BASE.replace("enum Kind { ONE TWO }", "enum Kind { ONE TWO THREE }"), SAFE),
    (
        "type removed",
        BASE.replace("type Old { id: ID! }", "").replace(" | Old", "").replace("  g: Old\n", ""),
        BREAKING,
    ),
    ("union member removed", BASE.replace("Item | Old", "Item"), BREAKING),
    ("union member added", BASE.replace("Item | Old", "Item | Old | Query"), SAFE),
    ("interface removed from a type", BASE.replace("type Item implements Node", "type Item"), BREAKING),
    ("field added", BASE.replace("  g: Old\n", "  g: Old\n  h: Int\n"), SAFE),
    ("argument default changed (dangerous)", BASE.replace("x: Int = 1", "x: Int = 2"), SAFE),
    ("description changed", BASE.replace('"""An a."""', '"""A new a."""'), SAFE),
    ("field deprecated", BASE.replace("  a: String", '  a: String @deprecated(reason: "Use b.")'), SAFE),
    ("required input field added", BASE.replace("{ name: String }", "{ name: String, age: Int! }"), BREAKING),
    ("optional input field added", BASE.replace("{ name: String }", "{ name: String, age: Int }"), SAFE),
    ("nothing changed", BASE, SAFE),
]


@pytest.fixture(autouse=True)
def _inspector_installed():
    if not os.access(inspector_binary(), os.X_OK):
        pytest.fail(f"graphql-inspector is not installed at {inspector_binary()}: run make clients")


@pytest.fixture(scope="module")
def inspector_verdicts():
    """graphql-inspector's verdict on every pair, run side by side (Node takes about a second to start)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {kind: pool.submit(inspector_diff, old_sdl=BASE, new_sdl=after) for kind, after, _ in CHANGES}
        return {kind: future.result() for kind, future in futures.items()}


@pytest.mark.parametrize(("kind", "after", "breaking"), CHANGES, ids=[kind for kind, _, _ in CHANGES])
def test_graphql_inspector_and_schema_check_agree(inspector_verdicts, kind, after, breaking):
    assert (after != BASE) == (kind != "nothing changed")
    ours = schema_compare(baseline_sdl=BASE, live=build_schema(after))
    theirs = inspector_verdicts[kind]
    assert ours.raw_breaking is breaking, ours
    assert theirs.breaking is breaking, theirs
    if breaking:
        assert len(theirs.changes["breaking"]) >= 1 and ours.breaking
    if kind == "argument default changed (dangerous)":
        assert theirs.changes["dangerous"] and ours.dangerous


@pytest.mark.django_db
def test_a_non_null_input_field_with_a_default_is_where_they_disagree(tmp_path):
    # graphql-core: clients need not send a field with a default (safe); graphql-inspector: breaking
    after = BASE.replace("{ name: String }", "{ name: String, age: Int! = 3 }")
    baseline = tmp_path / "before.graphql"
    baseline.write_text(BASE)
    report = contract_check(live=build_schema(after), against=str(baseline), second_opinion=True)
    assert not report.ok
    assert report.disagreement == (
        "graphql-inspector says breaking (1 breaking change), schema_check (graphql-core, before allowances) "
        "says not breaking"
    )


@pytest.mark.django_db
def test_second_opinion_passes_when_both_say_not_breaking(contract_repo):
    commit = contract_repo.commit_schema(LIVE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)
    out = StringIO()
    call_command("schema_check", second_opinion=True, stdout=out)
    assert "second opinion (graphql-inspector): not breaking" in out.getvalue()


@pytest.mark.django_db
def test_second_opinion_fails_naming_both_verdicts_when_they_differ(contract_repo, settings, tmp_path):
    commit = contract_repo.commit_schema(WITH_LEGACY_SCORE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=WITH_LEGACY_SCORE)
    # Both see the removal: they agree, and the removal fails the check on its own
    with pytest.raises(CommandError) as failed:
        call_command("schema_check", second_opinion=True, stdout=StringIO())
    assert "SearchHit.legacyScore was removed" in str(failed.value) and "disagrees" not in str(failed.value)
    # A graphql-inspector that sees nothing: the check names both verdicts
    fake = tmp_path / "graphql-inspector"
    fake.write_text("#!/bin/sh\necho '[success] No breaking changes detected'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    settings.GRAPHQL_INSPECTOR = fake
    with pytest.raises(CommandError, match="second opinion disagrees") as failed:
        call_command("schema_check", second_opinion=True, stdout=StringIO())
    assert "graphql-inspector says not breaking, schema_check (graphql-core, before allowances) says breaking" in str(
        failed.value
    )
    assert "schema_check: FIELD_REMOVED: SearchHit.legacyScore was removed." in str(failed.value)


@pytest.mark.django_db
def test_a_missing_graphql_inspector_says_run_make_clients(contract_repo, settings, tmp_path):
    commit = contract_repo.commit_schema(LIVE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)
    settings.GRAPHQL_INSPECTOR = tmp_path / "node_modules" / ".bin" / "graphql-inspector"
    with pytest.raises(CommandError, match=r"^graphql-inspector is not installed \(.*\): run make clients$"):
        call_command("schema_check", second_opinion=True, stdout=StringIO())
    call_command("schema_check", stdout=StringIO())  # without the second opinion it is not needed


@pytest.mark.parametrize(
    ("returncode", "output"),
    [
        (1, "[error] Error: Unable to find any GraphQL type definitions for the following pointers"),
        (1, "[log] \u2716  Field a was removed\n[error] Detected 2 breaking changes"),  # counts disagree
        (0, "[log] \u2716  Field a was removed\n[success] No breaking changes detected"),
        (0, ""),
        (127, "sh: node: not found"),
    ],
)
def test_output_graphql_inspector_did_not_mean_is_an_error(returncode, output):
    with pytest.raises(ContractError, match="graphql-inspector's answer was not understood"):
        inspector_verdict(returncode=returncode, output=output)


def test_the_verdict_is_read_from_exit_code_and_output():
    verdict = inspector_verdict(
        returncode=1,
        output="[log] \nDetected the following changes (2) between schemas:\n\n"
        "[log] \u2716  Field a was removed from object type Query\n"
        "[log] \u26a0  Default value for argument x on field Query.b changed from 1 to 2\n"
        "[error] Detected 1 breaking change\n",
    )
    assert verdict.breaking and verdict.name == "breaking (1 breaking change)"
    assert verdict.changes["dangerous"] == ["Default value for argument x on field Query.b changed from 1 to 2"]
