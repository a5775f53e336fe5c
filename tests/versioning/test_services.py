"""Cutting a release: a snapshot of a commit's schema, recorded with its commit and SHA-256, never rewritten."""

import datetime as dt
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from graphql import build_schema

from apps.versioning.contracts import contract_check
from apps.versioning.models import DeprecatedFieldUsage
from apps.versioning.releases import ContractError, release_list, sha256_hex
from apps.versioning.services import release_cut
from tests.versioning.conftest import LIVE, WITH_LEGACY_SCORE, WITHOUT_VALUE

pytestmark = pytest.mark.django_db


def api_release(version: str, **options) -> str:
    out = StringIO()
    call_command("api_release", version, stdout=out, **options)
    return out.getvalue()


def test_a_release_snapshots_the_commits_schema_and_records_commit_and_sha256(contract_repo):
    commit = contract_repo.commit_schema(LIVE)
    out = api_release("1.0.0", date=dt.date(2026, 12, 3))
    assert "release 1.0.0 (API v1) recorded" in out
    snapshot = contract_repo.root / "graphql" / "releases" / "v1.0.0.graphql"
    assert snapshot.read_text() == contract_repo.git("show", f"{commit}:schema.graphql") == LIVE
    recorded = json.loads((contract_repo.root / "graphql" / "releases.json").read_text())["releases"]
    assert recorded == [
        {
            "version": "1.0.0",
            "api": "v1",
            "date": "2026-12-03",
            "commit": commit,
            "sdl": "graphql/releases/v1.0.0.graphql",
            "sha256": sha256_hex(snapshot.read_bytes()),
        }
    ]
    call_command("schema_check", stdout=StringIO())  # the release is the baseline now


def test_an_existing_or_lower_version_is_refused(contract_repo):
    contract_repo.commit_schema(LIVE)
    api_release("1.2.0")
    with pytest.raises(CommandError, match=r"release 1\.2\.0 exists already"):
        api_release("1.2.0")
    with pytest.raises(CommandError, match=r"release 1\.1\.9 is not above the newest release, 1\.2\.0"):
        api_release("1.1.9")
    with pytest.raises(CommandError, match=r"'v1\.3' is not a version"):
        api_release("v1.3")
    api_release("1.2.1")
    assert [r.version for r in release_list()] == ["1.2.0", "1.2.1"]


def test_a_release_is_cut_from_a_commit_whose_schema_is_the_live_one(contract_repo):
    contract_repo.commit_schema(WITH_LEGACY_SCORE)
    (contract_repo.root / "schema.graphql").write_text(LIVE)  # regenerated but not committed
    with pytest.raises(CommandError, match=r"schema\.graphql at [0-9a-f]{12} is not the live schema"):
        api_release("1.0.0")
    with pytest.raises(CommandError, match=r"no commit 'nope' in this clone"):
        api_release("1.0.0", commit="nope")
    assert not (contract_repo.root / "graphql" / "releases.json").exists()


def test_a_breaking_change_ships_only_in_the_major_its_entry_names(contract_repo):
    # Given 1.0.0 had SearchHit.legacyScore and the live schema, committed, does not
    commit = contract_repo.commit_schema(WITH_LEGACY_SCORE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=WITH_LEGACY_SCORE)
    contract_repo.commit_schema(LIVE)
    # Then no 1.x release and no 2.0.0 without an entry
    with pytest.raises(CommandError, match=r"release 1\.1\.0 would ship breaking changes .*SearchHit\.legacyScore"):
        api_release("1.1.0")
    with pytest.raises(CommandError, match=r"release 2\.0\.0 would ship breaking changes"):
        api_release("2.0.0")
    assert [r.version for r in release_list()] == ["1.0.0"]


def test_a_recorded_removal_ships_in_the_version_its_entry_names_and_is_history_afterwards(contract_repo):
    # Given 1.0.0 with Attribute.value (past EOL, still used), then a commit without it
    DeprecatedFieldUsage.objects.create(field="Attribute.value", client="old-app", day=dt.date.today(), count=1)
    contract_repo.commit_schema(LIVE)
    api_release("1.0.0")
    contract_repo.commit_schema(WITHOUT_VALUE)
    live = build_schema(WITHOUT_VALUE)
    with pytest.raises(ContractError, match=r"release 2\.0\.0 would ship .*Attribute\.value was removed"):
        release_cut(version="2.0.0", live=live)
    # When the removal is recorded for 2.0.0, it ships in 2.0.0, not in 1.1.0 or 3.0.0
    contract_repo.allow(
        {
            "description": "Attribute.value was removed.",
            "version": "2.0.0",
            "completes": "Attribute.value",
            "reason": "r",
        }
    )
    for version in ("1.1.0", "3.0.0"):
        with pytest.raises(ContractError, match=rf"release {re.escape(version)} would ship"):
            release_cut(version=version, live=live)
    release = release_cut(version="2.0.0", live=live)
    assert release.api == "v2" and [r.version for r in release_list()] == ["1.0.0", "2.0.0"]
    # Then the entry is history: the new baseline has the removal, and the entry allows and warns of nothing
    report = contract_check(live=live)
    assert report.ok and report.baseline.label == "release 2.0.0"
    assert report.schema.allowed == [] and report.unmatched == [] and report.allowance_errors == []
