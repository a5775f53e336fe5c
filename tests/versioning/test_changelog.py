"""docs/api/CHANGELOG.md is made from the releases, the allowed changes and the deprecations, and checked for drift."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.versioning.changelog import changelog_render, changelog_stale
from apps.versioning.contracts import AllowedChange
from apps.versioning.releases import Release
from tests.versioning.conftest import LIVE

pytestmark = pytest.mark.django_db


def test_the_committed_changelog_is_current():
    call_command("api_changelog", check=True, stdout=StringIO())
    assert not changelog_stale()


def test_the_changelog_lists_deprecations_releases_and_breaking_changes_under_their_version():
    v1 = Release(
        version="1.0.0",
        api="v1",
        date="2026-01-15",
        commit="a" * 40,
        sdl="graphql/releases/v1.0.0.graphql",
        sha256="b" * 64,
    )
    v11 = Release(
        version="1.1.0",
        api="v1",
        date="2026-05-02",
        commit="c" * 40,
        sdl="graphql/releases/v1.1.0.graphql",
        sha256="d" * 64,
    )
    removal = AllowedChange(
        index=0,
        description="Attribute.value was removed.",
        version="2.0.0",
        completes="Attribute.value",
        reason="Attribute.text replaced it",
    )
    text = changelog_render(
        releases=[v1, v11],
        changes=[removal],
        deprecations={
            "Attribute.value": {"deprecated": "2025-09-30", "eol": "2026-03-31", "replacement": "Attribute.text"}
        },
    )
    assert "| `Attribute.value` | 2025-09-30 | 2026-03-31 | `Attribute.text` | 2.0.0 |" in text
    # newest first: the unreleased major with its breaking change, then each release with its date
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections == [
        "## Deprecations",
        "## 2.0.0 (not released yet, API v2)",
        "## 1.1.0 (API v1), 2026-05-02",
        "## 1.0.0 (API v1), 2026-01-15",
    ]
    after_v2 = text.split("## 2.0.0")[1].split("## 1.1.0")[0]
    assert (
        "- Attribute.value was removed. Completes the deprecation of `Attribute.value`. Attribute.text replaced it."
        in after_v2
    )
    assert "The first release of API v1." in text.split("## 1.0.0")[1]
    in_v11 = text.split("## 1.1.0")[1].split("## 1.0.0")[0]
    assert "No breaking changes." in in_v11
    # what 1.1.0 added to 1.0.0, read from their snapshots (the real ones of graphql/releases/)
    assert "Added since 1.0.0:" in in_v11 and "- `Query.costs`" in in_v11 and "- type `CostReport`" in in_v11
    assert "- argument `filter` of `Query.search`" in in_v11 and "Added since" not in text.split("## 1.0.0")[1]


def test_check_fails_when_a_source_changed_and_passes_once_regenerated(contract_repo):
    commit = contract_repo.commit_schema(LIVE)
    contract_repo.record_release("1.0.0", commit=commit, sdl=LIVE)
    with pytest.raises(CommandError, match=r"docs/api/CHANGELOG\.md is stale: run `manage\.py api_changelog`"):
        call_command("api_changelog", check=True)  # not written yet
    call_command("api_changelog", stdout=StringIO())
    call_command("api_changelog", check=True, stdout=StringIO())
    written = (contract_repo.root / "docs" / "api" / "CHANGELOG.md").read_text()
    assert "## 1.0.0 (API v1), 2026-01-15" in written and "`Attribute.value`" in written
    # When a breaking change is recorded for 2.0.0 the committed changelog is stale
    contract_repo.allow(
        {
            "description": "Attribute.value was removed.",
            "version": "2.0.0",
            "completes": "Attribute.value",
            "reason": "r",
        }
    )
    with pytest.raises(CommandError, match="is stale"):
        call_command("api_changelog", check=True)
    call_command("api_changelog", stdout=StringIO())
    assert "## 2.0.0 (not released yet, API v2)" in (contract_repo.root / "docs" / "api" / "CHANGELOG.md").read_text()
