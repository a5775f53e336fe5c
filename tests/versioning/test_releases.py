"""The baseline is a verified release snapshot, a commit's schema, or a file; bad input is one line, not a traceback."""

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.versioning.releases import baseline_load, release_list, sha256_hex
from tests.versioning.conftest import LIVE, WITH_LEGACY_SCORE

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def schema_check(**options) -> str:
    out = StringIO()
    call_command("schema_check", stdout=out, **options)
    return out.getvalue()


def test_the_recorded_release_is_intact_and_is_the_default_baseline():
    releases = json.loads((REPO / "graphql" / "releases.json").read_text())["releases"]
    newest = release_list()[-1]
    assert newest.version == max(releases, key=lambda r: tuple(map(int, r["version"].split("."))))["version"]
    assert sha256_hex((REPO / newest.sdl).read_bytes()) == newest.sha256
    baseline = baseline_load()
    assert baseline.label == f"release {newest.version}" and baseline.sdl == (REPO / newest.sdl).read_text()


def test_an_edited_snapshot_is_refused(contract_repo):
    commit = contract_repo.commit_schema(LIVE)
    snapshot = contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)
    assert "schema check OK" in schema_check()
    # When someone edits the released schema (here: to hide a removal)
    snapshot.write_text(LIVE.replace("type SearchHit {", "type SearchHit {\n  extra: Int\n", 1))
    with pytest.raises(
        CommandError, match=r"release 1\.0\.0: graphql/releases/v1\.0\.0\.graphql has SHA-256 .* immutable"
    ):
        schema_check()


def test_a_snapshot_that_is_not_its_commits_schema_is_refused_even_with_a_matching_sha256(contract_repo):
    commit = contract_repo.commit_schema(WITH_LEGACY_SCORE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)  # sha256 recorded for the doctored file
    with pytest.raises(CommandError, match=r"differs from schema\.graphql at commit [0-9a-f]{12}"):
        schema_check()


def test_a_commit_missing_from_the_clone_is_noted_and_the_snapshot_used(contract_repo):
    contract_repo.commit_schema(LIVE)
    contract_repo.record_release("1.0.0", commit="f" * 40, sdl=WITH_LEGACY_SCORE)
    out = StringIO()
    with pytest.raises(CommandError, match=r"SearchHit\.legacyScore was removed"):
        call_command("schema_check", stdout=out)
    notes = [line for line in out.getvalue().splitlines() if line.startswith("note:")]
    assert notes == [
        "note: commit ffffffffffff of release 1.0.0 is not in this clone (shallow?): checked against its SHA-256 only"
    ]


def test_without_git_the_check_says_so_in_one_line_and_carries_on(contract_repo):
    commit = contract_repo.commit_schema(LIVE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)
    shutil.rmtree(contract_repo.root / ".git")  # a tarball of the project
    out = schema_check()
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert notes == ["note: git is not available: release 1.0.0 checked against its SHA-256 only"]
    assert "schema check OK: no breaking changes against release 1.0.0" in out


def test_the_newest_release_by_version_is_the_baseline(contract_repo):
    old = contract_repo.commit_schema(LIVE, "1.0.0")
    new = contract_repo.commit_schema(WITH_LEGACY_SCORE, "1.10.0")
    contract_repo.record_release("1.10.0", commit=new, sdl=WITH_LEGACY_SCORE)
    contract_repo.record_release("1.2.0", commit=old, sdl=LIVE)  # listed later, but older
    with pytest.raises(CommandError, match=r"against release 1\.10\.0"):
        schema_check()


def test_no_release_recorded_says_how_to_cut_one(contract_repo):
    with pytest.raises(CommandError, match=r"no release in .*api_release 1\.0\.0"):
        schema_check()


def test_git_ref_baseline_reads_the_schema_at_a_commit(contract_repo):
    first = contract_repo.commit_schema(WITH_LEGACY_SCORE, "had legacyScore")
    contract_repo.commit_schema(LIVE, "dropped it")
    assert "against git:HEAD:schema.graphql" in schema_check(against="git:HEAD")
    with pytest.raises(
        CommandError, match=r"against git:HEAD~1:schema\.graphql:\n  FIELD_REMOVED: SearchHit\.legacyScore"
    ):
        schema_check(against="git:HEAD~1")
    with pytest.raises(CommandError, match=r"SearchHit\.legacyScore was removed"):
        schema_check(against=f"git:{first}:schema.graphql")
    # PATH names another file at that commit
    (contract_repo.root / "api").mkdir()
    (contract_repo.root / "api" / "old.graphql").write_text(WITH_LEGACY_SCORE)
    contract_repo.git("add", "api/old.graphql")
    contract_repo.git("commit", "-q", "-m", "old copy")
    with pytest.raises(CommandError, match=r"SearchHit\.legacyScore was removed"):
        schema_check(against="git:HEAD:api/old.graphql")


def test_git_head_of_this_repository_is_a_baseline():
    # This repository's HEAD holds a schema.graphql; comparing with it runs (whatever it finds)
    assert settings.BASE_DIR == REPO
    baseline = baseline_load("git:HEAD")
    assert baseline.label == "git:HEAD:schema.graphql" and "type Query" in baseline.sdl


@pytest.mark.parametrize(
    ("against", "message"),
    [
        ("git:no-such-ref", r"^git:no-such-ref:schema\.graphql: .*no-such-ref"),
        ("git:HEAD:missing.graphql", r"^git:HEAD:missing\.graphql: .*missing\.graphql"),
        ("git:", r"^git:: name a commit"),
        ("/nonexistent/old.graphql", r"^cannot read /nonexistent/old\.graphql: No such file or directory$"),
        ("{directory}", r"^cannot read .*: Is a directory$"),
        ("{invalid}", r"^file .*invalid\.graphql is not a valid GraphQL schema: Syntax Error"),
        ("{unknown_type}", r"^file .*unknown\.graphql is not a valid GraphQL schema: Unknown type 'Nope'"),
    ],
)
def test_bad_against_input_is_a_one_line_command_error(contract_repo, tmp_path, against, message):
    contract_repo.commit_schema(LIVE)
    (tmp_path / "invalid.graphql").write_text("type Query { a: ")
    (tmp_path / "unknown.graphql").write_text("type Query { a: Nope }")
    against = against.format(
        directory=tmp_path, invalid=tmp_path / "invalid.graphql", unknown_type=tmp_path / "unknown.graphql"
    )
    with pytest.raises(CommandError, match=message) as failed:
        schema_check(against=against)
    assert "\n" not in str(failed.value) and "Traceback" not in str(failed.value)


def test_git_ref_without_git_is_a_one_line_command_error(contract_repo):
    contract_repo.commit_schema(LIVE)
    shutil.rmtree(contract_repo.root / ".git")
    with pytest.raises(CommandError, match=r"^git:HEAD:schema\.graphql: git is not available here"):
        schema_check(against="git:HEAD")


@pytest.mark.parametrize(
    ("releases", "message"),
    [
        ("not json", r"releases\.json: unreadable"),
        ('{"releases": [{"version": "1.0"}]}', r"release 1: missing date, commit, sdl, sha256"),
        (
            '{"releases": [{"version": "one", "date": "d", "commit": "c", "sdl": "s", "sha256": "h"}]}',
            r"release 1: 'one' is not a version",
        ),
        (
            '{"releases": [{"version": "2.0.0", "api": "v1", "date": "d", "commit": "c", "sdl": "s", "sha256": "h"}]}',
            r"api 'v1' is not the version's major \(v2\)",
        ),
        (
            '{"releases": [{"version": "1.0.0", "date": "d", "commit": "c", "sdl": "s", "sha256": "h", '
            '"json_schemas": [{"path": "graphql/schemas/a.json"}]}]}',
            r"release 1 json_schemas 1: missing snapshot, sha256",
        ),
    ],
)
def test_a_malformed_releases_file_is_a_command_error(contract_repo, releases, message):
    (contract_repo.root / "graphql").mkdir()
    (contract_repo.root / "graphql" / "releases.json").write_text(releases)
    with pytest.raises(CommandError, match=message):
        schema_check()
