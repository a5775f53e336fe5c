"""graphql-inspector (The Guild, pinned in tools/clients by `make clients`) as schema_check's second opinion.

graphql-core's ``find_breaking_changes`` and graphql-inspector's ``diff`` are written independently; when they
disagree on whether a change breaks clients, one of them is wrong about it and a person should look.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from apps.versioning.releases import ContractError

INSPECTOR_TIMEOUT = 120  # seconds; Node starts in about one
# Without a terminal graphql-inspector prints "[log] ✖  message" for a breaking change, ⚠ for a dangerous one
# and ✔ for a safe one (log-symbols, with its fallbacks for terminals without Unicode), then its verdict.
_LEVELS = {
    "\u2716": "breaking",
    "\u00d7": "breaking",  # the multiplication sign, log-symbols' fallback
    "\u26a0": "dangerous",
    "\u203c": "dangerous",
    "\u2714": "non-breaking",
    "\u221a": "non-breaking",
}
_CHANGE = re.compile(r"^\[log\] (?P<symbol>[" + "".join(_LEVELS) + r"])\s+(?P<message>.+)$")
_BREAKING = re.compile(r"^\[error\] Detected (?P<count>\d+) breaking changes?$")
_SAFE = ("[success] No breaking changes detected", "[success] No changes detected")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class InspectorVerdict:
    """What ``graphql-inspector diff OLD NEW`` said: its verdict and each change it listed, by level."""

    breaking: bool
    changes: dict[str, list[str]] = field(default_factory=dict)  # "breaking" | "dangerous" | "non-breaking"

    @property
    def name(self) -> str:
        count = len(self.changes.get("breaking", []))
        return f"breaking ({count} breaking change{'s' * (count != 1)})" if self.breaking else "not breaking"


def inspector_binary() -> Path:
    return Path(settings.GRAPHQL_INSPECTOR)


def inspector_diff(*, old_sdl: str, new_sdl: str) -> InspectorVerdict:
    """Run ``graphql-inspector diff`` on two SDL texts; ContractError when it is missing or says nothing we know."""
    binary = inspector_binary()
    if not os.access(binary, os.X_OK):
        raise ContractError(f"graphql-inspector is not installed ({binary}): run make clients")
    with tempfile.TemporaryDirectory(prefix="ig-inspector-") as tmp:
        old, new = Path(tmp) / "baseline.graphql", Path(tmp) / "live.graphql"
        old.write_text(old_sdl)
        new.write_text(new_sdl)
        env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
        try:
            done = subprocess.run(
                [str(binary), "diff", str(old), str(new)],
                capture_output=True,
                text=True,
                timeout=INSPECTOR_TIMEOUT,
                env=env,
                cwd=tmp,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ContractError(f"graphql-inspector did not run: {exc}") from None
    return inspector_verdict(returncode=done.returncode, output=done.stdout + done.stderr)


def inspector_verdict(*, returncode: int, output: str) -> InspectorVerdict:
    """Read graphql-inspector's output: exit 1 and "Detected N breaking changes", or exit 0 and a success line."""
    lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines()]
    changes: dict[str, list[str]] = {"breaking": [], "dangerous": [], "non-breaking": []}
    for line in lines:
        match = _CHANGE.match(line)
        if match:
            changes[_LEVELS[match["symbol"]]].append(match["message"])
    counted = next((int(m["count"]) for m in map(_BREAKING.match, lines) if m), None)
    if returncode == 1 and counted is not None and counted == len(changes["breaking"]):
        return InspectorVerdict(breaking=True, changes=changes)
    if returncode == 0 and any(line in _SAFE for line in lines) and not changes["breaking"]:
        return InspectorVerdict(breaking=False, changes=changes)
    last = next((line for line in reversed(lines) if line.strip()), "no output")
    raise ContractError(f"graphql-inspector's answer was not understood (exit {returncode}): {last[:300]}")
