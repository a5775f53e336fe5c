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
from apps.versioning.contracts import (
    allowance_check,
    allowed_change_list,
    json_schema_keywords_check,
    json_schemas_compare,
    removable_fields,
    schema_compare,
)
from apps.versioning.deprecations import registry
from apps.versioning.releases import (
    JSON_SCHEMAS_DIR,
    SCHEMA_PATH,
    ContractError,
    JsonSchemaSnapshot,
    Release,
    git_available,
    git_commit,
    git_files,
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
    """Record ``version`` as released from ``commit``: snapshot its schema.graphql and every graphql/schemas/*.json
    and add it to releases.json.

    Refused (ContractError) when the version is not above every release, when the commit's schema.graphql or JSON
    Schemas are not the live ones (commit them first), or when the live schema breaks the newest release in a way
    this version may not ship: within a major only completed deprecations, in a new major the changes recorded for
    it; a published JSON Schema never narrows.
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
    json_files = _json_schemas_committed(commit_id)
    if newest is not None:
        _release_may_ship(version=version, newest=newest, releases=releases, live=live, date=date)
    snapshot = Path("graphql") / "releases" / f"v{version}.graphql"
    target = project_root() / snapshot
    json_targets = {path: Path("graphql") / "releases" / f"v{version}" / Path(path).name for path in json_files}
    for written in [snapshot, *json_targets.values()]:
        if (project_root() / written).exists():
            raise ContractError(f"{written} exists already: a release snapshot is never overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(committed)
    for path, json_snapshot in json_targets.items():
        (project_root() / json_snapshot).parent.mkdir(parents=True, exist_ok=True)
        (project_root() / json_snapshot).write_bytes(json_files[path])
    release = Release(
        version=version,
        api=f"v{key[0]}",
        date=(date or dt.date.today()).isoformat(),
        commit=commit_id,
        sdl=snapshot.as_posix(),
        sha256=sha256_hex(committed),
        json_schemas=tuple(
            JsonSchemaSnapshot(
                path=path, snapshot=json_targets[path].as_posix(), sha256=sha256_hex(data), commit=commit_id
            )
            for path, data in json_files.items()
        ),
    )
    entries = [_as_record(r) for r in releases] + [_as_record(release)]
    path = releases_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"releases": entries}, indent=2) + "\n")
    return release


def _json_schemas_committed(commit_id: str) -> dict[str, bytes]:
    """Every graphql/schemas/*.json at the commit, which must be the live files (the same set, byte for byte)."""
    committed = {path: git_show(commit_id, path) for path in git_files(commit_id, JSON_SCHEMAS_DIR)}
    committed = {path: data for path, data in committed.items() if path.endswith(".json")}
    live = {
        f"{JSON_SCHEMAS_DIR}/{file.name}": file.read_bytes()
        for file in sorted((project_root() / JSON_SCHEMAS_DIR).glob("*.json"))
    }
    for path in sorted(set(committed) | set(live)):
        if committed.get(path) != live.get(path):
            raise ContractError(
                f"{path} at {commit_id[:12]} is not the live file: review and commit it, then cut the release from "
                "that commit"
            )
        try:
            json_schema_keywords_check(json.loads(live[path]), label=path)
        except ValueError as exc:
            raise ContractError(f"{path} is not JSON ({exc})") from None
    return committed


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
    json_breaking, _ = json_schemas_compare(newest)
    if json_breaking:
        raise ContractError(
            f"release {version} would narrow JSON Schemas {newest.version} published (nothing allows that: publish "
            "a new versioned file beside it): " + "; ".join(json_breaking)
        )


def _as_record(release: Release) -> dict:
    record = {
        "version": release.version,
        "api": release.api,
        "date": release.date,
        "commit": release.commit,
        "sdl": release.sdl,
        "sha256": release.sha256,
    }
    if release.json_schemas:  # absent means none were published
        record["json_schemas"] = [
            {"path": entry.path, "snapshot": entry.snapshot, "sha256": entry.sha256, "commit": entry.commit}
            for entry in release.json_schemas
        ]
    return record


def changelog_write() -> Path:
    """Regenerate docs/api/CHANGELOG.md from the records."""
    path = changelog_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(changelog_text())
    return path
