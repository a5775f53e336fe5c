"""A throwaway project for the contract checks: its own git repository, releases, allowed changes and changelog."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from graphql import build_schema, print_schema

from apps.versioning.releases import sha256_hex
from intelgraph.schema import schema

LIVE = print_schema(schema.graphql_schema)
# What a release looks like when the live schema has since dropped SearchHit.legacyScore.
WITH_LEGACY_SCORE = LIVE.replace("type SearchHit {", 'type SearchHit {\n  """gone"""\n  legacyScore: Float\n', 1)
# ... and when the live schema has since dropped the deprecated Attribute.value (printed as the server prints it).
WITHOUT_VALUE = print_schema(
    build_schema(
        re.sub(r'\n  """The value as text\. Replaced by text\."""\n  value: String @deprecated.*\n', "\n", LIVE)
    )
)
assert LIVE != WITH_LEGACY_SCORE and LIVE != WITHOUT_VALUE


class ContractRepo:
    """A git work tree standing in for the project root (settings point at it for the test)."""

    def __init__(self, root: Path):
        self.root = root
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def commit_schema(self, sdl: str, message: str = "schema") -> str:
        (self.root / "schema.graphql").write_text(sdl)
        self.git("add", "schema.graphql")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def record_release(self, version: str, *, commit: str, sdl: str, date: str = "2026-01-15") -> Path:
        snapshot = self.root / "graphql" / "releases" / f"v{version}.graphql"
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(sdl)
        path = self.root / "graphql" / "releases.json"
        releases = json.loads(path.read_text())["releases"] if path.exists() else []
        releases.append(
            {
                "version": version,
                "api": f"v{version.split('.')[0]}",
                "date": date,
                "commit": commit,
                "sdl": f"graphql/releases/v{version}.graphql",
                "sha256": sha256_hex(snapshot.read_bytes()),
            }
        )
        path.write_text(json.dumps({"releases": releases}, indent=2))
        return snapshot

    def allow(self, *entries: dict) -> None:
        (self.root / "graphql").mkdir(exist_ok=True)
        (self.root / "graphql" / "allowed-changes.json").write_text(json.dumps({"changes": list(entries)}))


@pytest.fixture
def contract_repo(tmp_path, settings, monkeypatch):
    # git must not find the real repository above the temporary directory
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    settings.BASE_DIR = tmp_path
    settings.GRAPHQL_RELEASES = tmp_path / "graphql" / "releases.json"
    settings.GRAPHQL_ALLOWED_CHANGES = tmp_path / "graphql" / "allowed-changes.json"
    settings.API_CHANGELOG = tmp_path / "docs" / "api" / "CHANGELOG.md"
    return ContractRepo(tmp_path)
