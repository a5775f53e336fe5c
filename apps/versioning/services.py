"""Writes of the versioning app's contract records: cutting a release, regenerating the changelog.

These write files in the repository, not rows: a release is reviewed and committed like code, so git holds its
history and its author (docs/api/contract-checks.md).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from graphql import GraphQLSchema

from apps.versioning.changelog import changelog_path, changelog_text
from apps.versioning.contracts import allowance_check, allowed_change_list, removable_fields, schema_compare
from apps.versioning.deprecations import registry
from apps.versioning.releases import (
    SCHEMA_PATH,
    ContractError,
    Release,
    git_available,
    git_commit,
    git_show,
    live_sdl,
    project_root,
    release_list,
    release_snapshot,
    releases_path,
    semver,
    sha256_hex,
)


def release_cut(*, version: str, live: GraphQLSchema, commit: str = "HEAD", date: dt.date | None = None) -> Release:
    """Record ``version`` as released from ``commit``: snapshot its schema.graphql and add it to releases.json.

    Refused (ContractError) when the version is not above every release, when the commit's schema.graphql is not
    the live schema (commit it first), or when the live schema breaks the newest release in a way this version
    may not ship: within a major only completed deprecations, in a new major the changes recorded for it.
    """
    key = semver(version)
    releases = release_list()
    newest = releases[-1] if releases else None
    if any(release.version == version for release in releases):
        raise ContractError(f"release {version} exists already: a release is immutable, cut a later version")
    if newest is not None and key <= newest.key:
        raise ContractError(f"release {version} is not above the newest release, {newest.version}")
    if not git_available():
        raise ContractError("a release records the commit it was cut from: git is needed (this is not a git clone)")
    commit_id = git_commit(commit)
    if commit_id is None:
        raise ContractError(f"no commit {commit!r} in this clone")
    committed = git_show(commit_id)
    sdl = live_sdl(live)
    if committed.decode(errors="replace").strip() != sdl.strip():
        raise ContractError(
            f"{SCHEMA_PATH} at {commit_id[:12]} is not the live schema: regenerate it, review and commit it, then cut "
            "the release from that commit"
        )
    if newest is not None:
        _release_may_ship(version=version, newest=newest, releases=releases, live=live, date=date)
    snapshot = Path("graphql") / "releases" / f"v{version}.graphql"
    target = project_root() / snapshot
    if target.exists():
        raise ContractError(f"{snapshot} exists already: a release snapshot is never overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(committed)
    release = Release(
        version=version,
        api=f"v{key[0]}",
        date=(date or dt.date.today()).isoformat(),
        commit=commit_id,
        sdl=snapshot.as_posix(),
        sha256=sha256_hex(committed),
    )
    entries = [_as_record(r) for r in releases] + [_as_record(release)]
    path = releases_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"releases": entries}, indent=2) + "\n")
    return release


def _release_may_ship(*, version: str, newest: Release, releases: list[Release], live: GraphQLSchema, date) -> None:
    allowances = allowance_check(entries=allowed_change_list(), releases=releases, deprecations=registry(), today=date)
    if allowances.errors:
        raise ContractError("graphql/allowed-changes.json has refused entries: " + "; ".join(allowances.errors))
    for_this = {entry.description for entry in allowances.pending if entry.version == version}
    report = schema_compare(
        baseline_sdl=release_snapshot(newest).sdl, live=live, allowed=for_this, removable=removable_fields(today=date)
    )
    if not report.ok:
        raise ContractError(
            f"release {version} would ship breaking changes against {newest.version} that no entry for {version} "
            "in graphql/allowed-changes.json allows: " + "; ".join(report.breaking)
        )


def _as_record(release: Release) -> dict:
    return {
        "version": release.version,
        "api": release.api,
        "date": release.date,
        "commit": release.commit,
        "sdl": release.sdl,
        "sha256": release.sha256,
    }


def changelog_write() -> Path:
    """Regenerate docs/api/CHANGELOG.md from the records."""
    path = changelog_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(changelog_text())
    return path
