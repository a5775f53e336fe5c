"""Released API versions: the baseline the live schema is checked against (docs/api/contract-checks.md).

``graphql/releases.json`` lists every release: its version (semver; the API major ``v1`` is its first number),
its date, the commit it was cut from, and an immutable snapshot of the schema at that commit
(``graphql/releases/v1.0.0.graphql``) with the snapshot's SHA-256. The working tree's ``schema.graphql`` is not a
baseline: it is regenerated whenever the schema changes, so a removal would pass against it.

A release also records the JSON Schemas it published under ``graphql/schemas/`` (``json_schemas``: each file's
path, its snapshot ``graphql/releases/v1.0.0/<name>``, the snapshot's SHA-256 and the commit it was taken from).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from graphql import GraphQLError, GraphQLSchema, build_schema, print_schema

GIT_TIMEOUT = 30  # seconds; a git that hangs (a lock, a network filesystem) is reported, not waited for
SCHEMA_PATH = "schema.graphql"  # where a commit holds its printed schema, relative to the project root
JSON_SCHEMAS_DIR = "graphql/schemas"  # the published JSON Schemas (the search filters' grammar), relative to the root
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


class ContractError(Exception):
    """Input the contract check cannot work with: one line saying what and where (never a traceback)."""


def semver(text: object) -> tuple[int, int, int]:
    """``"2.0.0"`` -> ``(2, 0, 0)``; ContractError for anything that is not MAJOR.MINOR.PATCH."""
    match = _SEMVER.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ContractError(f"{text!r} is not a version MAJOR.MINOR.PATCH (e.g. 2.0.0)")
    return int(match[1]), int(match[2]), int(match[3])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class JsonSchemaSnapshot:
    """One JSON Schema a release published: the live file's path, its immutable snapshot and where it came from."""

    path: str  # the published file, relative to the project root: graphql/schemas/search-filters.v1.json
    snapshot: str  # graphql/releases/v1.0.0/search-filters.v1.json
    sha256: str
    commit: str  # the commit holding ``path`` as snapshotted (1.0.0 predates the file: a later commit, see the docs)


@dataclass(frozen=True)
class Release:
    """One released API version, as graphql/releases.json records it."""

    version: str
    api: str  # "v1": the major integrators ask for in x-ig-api-version
    date: str
    commit: str
    sdl: str  # the snapshot's path, relative to the project root
    sha256: str
    json_schemas: tuple[JsonSchemaSnapshot, ...] = ()

    @property
    def key(self) -> tuple[int, int, int]:
        return semver(self.version)

    @property
    def major(self) -> int:
        return self.key[0]


@dataclass(frozen=True)
class Baseline:
    """The schema the live one is compared with, where it came from, and what could not be verified."""

    label: str  # "release 1.0.0", "git:HEAD:schema.graphql", "file old.graphql"
    sdl: str
    release: Release | None = None
    notes: list[str] = field(default_factory=list)


def releases_path() -> Path:
    return Path(settings.GRAPHQL_RELEASES)


def project_root() -> Path:
    return Path(settings.BASE_DIR)


def release_list() -> list[Release]:
    """Every release, oldest first (by version); ContractError when releases.json is malformed."""
    path = releases_path()
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text())["releases"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ContractError(f"{path}: unreadable ({exc})") from None
    releases, seen = [], set()
    for index, entry in enumerate(entries if isinstance(entries, list) else [None]):
        where = f"{path.name} release {index + 1}"
        if not isinstance(entry, dict):
            raise ContractError(f"{where}: not an object")
        missing = [key for key in ("version", "date", "commit", "sdl", "sha256") if not entry.get(key)]
        if missing:
            raise ContractError(f"{where}: missing {', '.join(missing)}")
        try:
            major = semver(entry["version"])[0]
        except ContractError as exc:
            raise ContractError(f"{where}: {exc}") from None
        if entry["version"] in seen:
            raise ContractError(f"{where}: version {entry['version']} is listed twice")
        seen.add(entry["version"])
        api = entry.get("api") or f"v{major}"
        if api != f"v{major}":
            raise ContractError(f"{where}: api {api!r} is not the version's major (v{major})")
        releases.append(
            Release(
                version=entry["version"],
                api=api,
                date=str(entry["date"]),
                commit=str(entry["commit"]),
                sdl=str(entry["sdl"]),
                sha256=str(entry["sha256"]),
                json_schemas=_json_schema_entries(where, entry),
            )
        )
    return sorted(releases, key=lambda release: release.key)


def _json_schema_entries(where: str, entry: dict) -> tuple[JsonSchemaSnapshot, ...]:
    items = entry.get("json_schemas", [])
    if not isinstance(items, list):
        raise ContractError(f"{where}: json_schemas is not a list")
    result, paths = [], set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ContractError(f"{where} json_schemas {number}: not an object")
        missing = [key for key in ("path", "snapshot", "sha256") if not item.get(key)]
        if missing:
            raise ContractError(f"{where} json_schemas {number}: missing {', '.join(missing)}")
        if item["path"] in paths:
            raise ContractError(f"{where} json_schemas {number}: {item['path']} is listed twice")
        paths.add(item["path"])
        result.append(
            JsonSchemaSnapshot(
                path=str(item["path"]),
                snapshot=str(item["snapshot"]),
                sha256=str(item["sha256"]),
                commit=str(item.get("commit") or entry["commit"]),
            )
        )
    return tuple(result)


def release_latest() -> Release | None:
    releases = release_list()
    return releases[-1] if releases else None


# --------------------------------------------------------------------------- git


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(project_root()), *args], capture_output=True, timeout=GIT_TIMEOUT, check=False
    )


def git_available() -> bool:
    """Whether git is installed and the project is a git work tree (a tarball is not)."""
    if shutil.which("git") is None:
        return False
    try:
        return _git("rev-parse", "--git-dir").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def git_commit(ref: str) -> str | None:
    """The full commit id ``ref`` names, or None when this clone does not have it (shallow, or never fetched)."""
    try:
        done = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode().strip() if done.returncode == 0 else None


def git_has_file(ref: str, path: str) -> bool:
    """Whether the commit ``ref`` holds ``path`` (relative to the project root)."""
    try:
        return _git("cat-file", "-e", f"{ref}:./{path}").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def git_files(ref: str, directory: str) -> list[str]:
    """The paths of the files directly in ``directory`` at commit ``ref`` (relative to the project root)."""
    try:
        done = _git("ls-tree", "--name-only", f"{ref}:./{directory}")
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return sorted(f"{directory}/{name}" for name in done.stdout.decode().splitlines() if name)


def git_show(ref: str, path: str = SCHEMA_PATH) -> bytes:
    """A file's bytes at a commit (path relative to the project root); ContractError when git cannot say."""
    if not git_available():
        raise ContractError(f"git:{ref}:{path}: git is not available here (not installed, or not a git clone)")
    try:
        done = _git("show", f"{ref}:./{path}")
    except subprocess.TimeoutExpired:
        raise ContractError(f"git:{ref}:{path}: git did not answer within {GIT_TIMEOUT}s") from None
    if done.returncode != 0:
        reason = (done.stderr.decode(errors="replace").strip().splitlines() or ["git show failed"])[0]
        raise ContractError(f"git:{ref}:{path}: {reason.removeprefix('fatal: ')}")
    return done.stdout


# --------------------------------------------------------------------------- baselines


def _verified_snapshot(
    *,
    label: str,
    snapshot: str,
    sha256: str,
    what: str,
    subject: str,
    commit: str,
    published: str,
    differs: str,
    require_file: bool,
) -> tuple[bytes, list[str]]:
    """A released snapshot's bytes and notes, refused when it is not what was recorded: its SHA-256 must be the
    recorded one, and when git has ``commit`` the file ``published`` there must be the snapshot byte for byte.
    ``what`` names it in the SHA-256 refusal ("schema"), ``subject`` in the notes, ``differs`` ends that refusal;
    with ``require_file`` a commit without the published file is refused too."""
    try:
        data = (project_root() / snapshot).read_bytes()
    except OSError as exc:
        raise ContractError(f"{label} unreadable ({exc.strerror})") from None
    if sha256_hex(data) != sha256:
        raise ContractError(
            f"{label} has SHA-256 {sha256_hex(data)}, releases.json records {sha256}: a released {what} "
            f"is immutable, restore it (git checkout -- {snapshot})"
        )
    notes = []
    if not git_available():
        notes.append(f"git is not available: {subject} checked against its SHA-256 only")
    elif git_commit(commit) is None:
        notes.append(
            f"commit {commit[:12]} of {subject} is not in this clone (shallow?): checked against its SHA-256 only"
        )
    elif require_file and not git_has_file(commit, published):
        raise ContractError(
            f"{label}: commit {commit[:12]} has no {published}; record the commit the snapshot was taken "
            "from as the entry's commit"
        )
    elif git_show(commit, published) != data:
        raise ContractError(f"{label} differs from {published} at commit {commit[:12]}, {differs}")
    return data, notes


def release_snapshot(release: Release) -> Baseline:
    """A release's snapshot, refused when it is not what was recorded (its SHA-256, its commit's schema)."""
    data, notes = _verified_snapshot(
        label=f"release {release.version}: {release.sdl}",
        snapshot=release.sdl,
        sha256=release.sha256,
        what="schema",
        subject=f"release {release.version}",
        commit=release.commit,
        published=SCHEMA_PATH,
        differs="the commit it records as cut from",
        require_file=False,
    )
    return Baseline(label=f"release {release.version}", sdl=data.decode(), release=release, notes=notes)


def json_schema_snapshot(release: Release, entry: JsonSchemaSnapshot) -> tuple[dict, list[str]]:
    """A released JSON Schema's snapshot, parsed, and notes; refused like the SDL's when it is not as recorded
    (and when the entry's commit, where git has it, does not hold the published file)."""
    label = f"release {release.version}: {entry.snapshot}"
    data, notes = _verified_snapshot(
        label=label,
        snapshot=entry.snapshot,
        sha256=entry.sha256,
        what="JSON Schema",
        subject=entry.snapshot,
        commit=entry.commit,
        published=entry.path,
        differs="the commit it records",
        require_file=True,
    )
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise ContractError(f"{label} is not JSON ({exc})") from None
    return document, notes


def _valid_sdl(label: str, sdl: str) -> str:
    try:
        build_schema(sdl)
    except (GraphQLError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ContractError(f"{label} is not a valid GraphQL schema: {reason}") from None
    return sdl


def baseline_load(against: str | None = None) -> Baseline:
    """The baseline to compare with: the newest release (default), ``git:REF[:PATH]`` or a file's SDL."""
    if not against:
        release = release_latest()
        if release is None:
            raise ContractError(
                f"no release in {releases_path()}: cut the first one with `manage.py api_release 1.0.0`"
            )
        baseline = release_snapshot(release)
    elif against.startswith("git:"):
        ref, _, path = against.removeprefix("git:").partition(":")
        if not ref:
            raise ContractError(f"{against}: name a commit, e.g. git:HEAD or git:origin/main:schema.graphql")
        raw = git_show(ref, path or SCHEMA_PATH)
        baseline = Baseline(label=f"git:{ref}:{path or SCHEMA_PATH}", sdl=raw.decode(errors="replace"))
    else:
        try:
            sdl = Path(against).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractError(f"cannot read {against}: {getattr(exc, 'strerror', None) or exc}") from None
        baseline = Baseline(label=f"file {against}", sdl=sdl)
    _valid_sdl(baseline.label, baseline.sdl)
    return baseline


def live_sdl(live: GraphQLSchema) -> str:
    """The live schema printed as ``manage.py graphql_schema`` prints schema.graphql."""
    return print_schema(live)
