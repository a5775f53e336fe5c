"""Contract checks for the GraphQL API: breaking changes against the released schema, and the safelist.

The baseline is a release (``apps.versioning.releases``), never the working tree's schema.graphql. A breaking
change passes only when it completes a deprecation: the field is past its end of life and unused for the quiet
period (``removable_fields``), or ``graphql/allowed-changes.json`` records it with the next major version that
ships it and the deprecation it completes (``allowance_check``). docs/api/contract-checks.md says how to use them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from graphql import (
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    parse,
    print_schema,
    validate,
)

from apps.access import ranks
from apps.access.services import operation_tags
from apps.versioning.deprecations import registry
from apps.versioning.inspector import InspectorVerdict, inspector_diff
from apps.versioning.models import DeprecatedFieldUsage
from apps.versioning.releases import Baseline, ContractError, Release, baseline_load, release_list, semver
from apps.versioning.safelist import document_hash


@dataclass
class SchemaReport:
    breaking: list[str]
    dangerous: list[str]
    allowed: list[str]
    descriptions: set[str] = field(default_factory=set)  # of every breaking change, allowed or not

    @property
    def ok(self) -> bool:
        return not self.breaking

    @property
    def raw_breaking(self) -> bool:
        """The verdict before allowances: whether anything breaks clients of the baseline at all."""
        return bool(self.breaking or self.allowed)


def schema_compare(
    *, baseline_sdl: str, live: GraphQLSchema, allowed: set[str] | None = None, removable: set[str] | None = None
) -> SchemaReport:
    """Breaking changes from the baseline schema to the live one.

    Those recorded as allowed pass, and so does removing a field in ``removable`` (deprecated, past its
    end of life, and unused for the quiet period: see ``removable_fields``).
    """
    old = build_schema(baseline_sdl)
    # Compare like with like: graphene's scalar classes differ from graphql-core's built ones.
    live = build_schema(print_schema(live))
    allowed = allowed or set()
    removable = removable or set()
    breaking, accepted, descriptions = [], [], set()
    for change in find_breaking_changes(old, live):
        descriptions.add(change.description)
        removed = change.description.removesuffix(" was removed.")
        ok = change.description in allowed or (change.type.name == "FIELD_REMOVED" and removed in removable)
        (accepted if ok else breaking).append(f"{change.type.name}: {change.description}")
    dangerous = [f"{c.type.name}: {c.description}" for c in find_dangerous_changes(old, live)]
    return SchemaReport(breaking=breaking, dangerous=dangerous, allowed=accepted, descriptions=descriptions)


def removable_fields(*, quiet_days: int | None = None, today: dt.date | None = None) -> set[str]:
    """Deprecated fields past their EOL with no recorded use in the last ``quiet_days`` days."""
    today = today or dt.date.today()
    quiet_days = settings.DEPRECATION_QUIET_DAYS if quiet_days is None else quiet_days
    since = today - dt.timedelta(days=quiet_days)
    result = set()
    for name, entry in registry().items():
        past_eol = dt.date.fromisoformat(entry["eol"]) < today
        used = DeprecatedFieldUsage.objects.filter(field=name, day__gte=since, count__gt=0).exists()
        if past_eol and not used:
            result.add(name)
    return result


# --------------------------------------------------------------------------- allowed breaking changes


@dataclass(frozen=True)
class AllowedChange:
    """One breaking change accepted in graphql/allowed-changes.json, with the version that ships it."""

    index: int
    description: str  # graphql-core's description of the change, e.g. "Attribute.value was removed."
    version: str | None
    completes: str | None  # the deprecation ("Type.field") the change completes
    reason: str | None

    @property
    def label(self) -> str:
        return f"allowed change {self.index + 1} ({self.description!r})"


@dataclass
class AllowanceCheck:
    pending: list[AllowedChange]  # sound and for a version not yet released: they allow their change
    shipped: list[AllowedChange]  # for a released version: history (the changelog lists them)
    errors: list[str]

    @property
    def allowed(self) -> set[str]:
        return {entry.description for entry in self.pending}


def allowed_changes_path() -> Path:
    return Path(settings.GRAPHQL_ALLOWED_CHANGES)


def allowed_change_list() -> list[AllowedChange]:
    """The entries of graphql/allowed-changes.json (none when it does not exist); ContractError when malformed."""
    path = allowed_changes_path()
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text())["changes"]
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise TypeError("changes must be a list of objects")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ContractError(f"{path}: unreadable ({exc})") from None
    return [
        AllowedChange(
            index=index,
            description=str(entry.get("description") or ""),
            version=entry.get("version"),
            completes=entry.get("completes"),
            reason=entry.get("reason"),
        )
        for index, entry in enumerate(entries)
    ]


# Which schema coordinates each of graphql-core's breaking-change descriptions is about.
_SUBJECTS = (
    (re.compile(r"(?P<type>\w+)\.(?P<field>\w+) arg (?P<arg>\w+) "), "{type}.{field}", "{type}.{field}({arg}:)"),
    (
        re.compile(r"A required arg (?P<arg>\w+) on (?P<type>\w+)\.(?P<field>\w+) was added\."),
        "{type}.{field}",
        "{type}.{field}({arg}:)",
    ),
    (re.compile(r"(?P<type>\w+)\.(?P<field>\w+) (was removed|changed type from .*)\."), "{type}.{field}"),
    (re.compile(r"(?P<value>\w+) was removed from enum type (?P<type>\w+)\."), "{type}.{value}"),
    (re.compile(r"A required field (?P<field>\w+) on input type (?P<type>\w+) was added\."), "{type}.{field}"),
)


def change_subjects(description: str) -> set[str]:
    """The fields (``Type.field``, arguments ``Type.field(arg:)``, enum values) a change description is about."""
    for pattern, *coordinates in _SUBJECTS:
        match = pattern.match(description)
        if match:
            return {coordinate.format(**match.groupdict()) for coordinate in coordinates}
    return set()


def allowance_check(
    *,
    entries: list[AllowedChange],
    releases: list[Release],
    deprecations: dict[str, dict],
    today: dt.date | None = None,
) -> AllowanceCheck:
    """Sort the entries into pending, shipped and refused.

    A pending entry names a version whose major is above the newest release's (a breaking change does not ship
    within a major version), a deprecation in the registry whose end of life has passed, and a change about that
    deprecated field. An entry for a released version is history: it allows nothing, the release has the change.
    """
    today = today or dt.date.today()
    released = {release.version for release in releases}
    newest = releases[-1] if releases else None
    pending, shipped, errors = [], [], []
    for entry in entries:
        problems = []
        if not entry.description:
            problems.append("no description (graphql-core's description of the change, as schema_check prints it)")
        if entry.version is None:
            problems.append("no version: name the major version that ships the change, e.g. 2.0.0")
        else:
            try:
                major = semver(entry.version)[0]
            except ContractError as exc:
                problems.append(f"version {exc}")
                major = None
            if entry.version in released and not problems:
                shipped.append(entry)
                continue
            if major is not None and newest is not None and major <= newest.major:
                problems.append(
                    f"version {entry.version} is not a later major than release {newest.version}: "
                    f"a breaking change ships in {newest.major + 1}.0.0 at the earliest"
                )
        if not entry.reason:
            problems.append("no reason")
        deprecation = deprecations.get(entry.completes) if isinstance(entry.completes, str) else None
        if not entry.completes:
            problems.append("completes no deprecation: name the deprecated Type.field it removes")
        elif deprecation is None:
            problems.append(f"completes {entry.completes!r}, which is not in the deprecation registry")
        else:
            eol = dt.date.fromisoformat(deprecation["eol"])
            if eol >= today:
                problems.append(f"completes {entry.completes}, whose end of life ({eol}) has not passed")
            if entry.description and entry.completes not in change_subjects(entry.description):
                problems.append(f"the change is not about {entry.completes}, the deprecation it says it completes")
        if problems:
            errors += [f"{entry.label}: {problem}" for problem in problems]
        else:
            pending.append(entry)
    return AllowanceCheck(pending=pending, shipped=shipped, errors=errors)


def allowed_changes() -> set[str]:
    """Descriptions of the breaking changes sound entries of graphql/allowed-changes.json allow."""
    return allowance_check(entries=allowed_change_list(), releases=release_list(), deprecations=registry()).allowed


# --------------------------------------------------------------------------- the whole check


@dataclass
class ContractReport:
    """schema_check's answer: the baseline, the comparison, refused allowances and the second opinion."""

    baseline: Baseline
    schema: SchemaReport
    allowance_errors: list[str]
    unmatched: list[str]  # pending allowances that match no change (warnings)
    second_opinion: InspectorVerdict | None = None

    @property
    def disagreement(self) -> str | None:
        if self.second_opinion is None or self.second_opinion.breaking == self.schema.raw_breaking:
            return None
        ours = "breaking" if self.schema.raw_breaking else "not breaking"
        return (
            f"graphql-inspector says {self.second_opinion.name}, schema_check (graphql-core, before allowances) "
            f"says {ours}"
        )

    @property
    def ok(self) -> bool:
        return self.schema.ok and not self.allowance_errors and self.disagreement is None


def contract_check(
    *, live: GraphQLSchema, against: str | None = None, second_opinion: bool = False, today: dt.date | None = None
) -> ContractReport:
    """Compare the live schema with the newest release (or ``against``: ``git:REF[:PATH]`` or a file).

    Raises ContractError for input it cannot use: a malformed releases.json or allowed-changes.json, an edited
    snapshot, an unknown ref, an unreadable file, invalid SDL, graphql-inspector missing.
    """
    baseline = baseline_load(against)
    allowances = allowance_check(
        entries=allowed_change_list(), releases=release_list(), deprecations=registry(), today=today
    )
    report = schema_compare(
        baseline_sdl=baseline.sdl, live=live, allowed=allowances.allowed, removable=removable_fields(today=today)
    )
    unmatched = [
        f"{entry.label} matches no breaking change against {baseline.label}"
        for entry in allowances.pending
        if entry.description not in report.descriptions
    ]
    verdict = inspector_diff(old_sdl=baseline.sdl, new_sdl=print_schema(live)) if second_opinion else None
    return ContractReport(
        baseline=baseline,
        schema=report,
        allowance_errors=allowances.errors,
        unmatched=unmatched,
        second_opinion=verdict,
    )


def safelist_problems(*, live: GraphQLSchema, path: str | None = None) -> list[str]:
    """Every way the safelist disagrees with itself or the live schema; empty when it is sound."""
    safelist_path = Path(path or settings.GRAPHQL_SAFELIST)
    try:
        data = json.loads(safelist_path.read_text())
        entries = data["operations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{safelist_path}: unreadable ({exc})"]
    problems, seen, known_roles = [], set(), ranks.roles()
    for index, entry in enumerate(entries):
        label = entry.get("id") or f"entry {index}"
        if entry.get("id") in seen:
            problems.append(f"{label}: duplicate id")
        seen.add(entry.get("id"))
        for role in entry.get("roles", []):
            if role not in known_roles:
                problems.append(f"{label}: unknown role {role!r}")
        tags = entry.get("abac") or []
        if not tags:
            problems.append(f"{label}: no ABAC tag")
        known = operation_tags()
        problems += [f"{label}: unknown ABAC tag {tag!r}" for tag in tags if tag not in known]
        try:
            document = (safelist_path.parent / entry["file"]).read_text()
        except (OSError, KeyError) as exc:
            problems.append(f"{label}: document not readable ({exc})")
            continue
        if document_hash(document) != entry.get("hash"):
            problems.append(
                f"{label}: hash {entry.get('hash')} does not match {entry['file']} ({document_hash(document)})"
            )
        try:
            errors = validate(live, parse(document))
        except Exception as exc:  # a syntax error in the document
            errors = [exc]
        problems += [f"{label}: invalid against the live schema: {error}" for error in errors]
    return problems
