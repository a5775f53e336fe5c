"""Contract checks for the GraphQL API: breaking changes against the released schema, and the safelist.

The baseline is a release (``apps.versioning.releases``), never the working tree's schema.graphql. A breaking
change passes only when it completes a deprecation: the field is past its end of life and unused for the quiet
period (``removable_fields``), or ``graphql/allowed-changes.json`` records it with the next major version that
ships it and the deprecation it completes (``allowance_check``). docs/api/contract-checks.md says how to use them.

The JSON Schemas a release published (the search filters' grammar) are compared with the live files by
``json_schema_compare``; nothing waives a break there: a published version only grows, a change that narrows it is
a new versioned file beside it.
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
from apps.versioning.releases import (
    Baseline,
    ContractError,
    Release,
    baseline_load,
    json_schema_snapshot,
    project_root,
    release_list,
    semver,
)
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


# --------------------------------------------------------------------------- published JSON Schemas

# Every keyword the diff understands. Any other keyword refuses the check: a keyword it skipped could narrow what
# the file accepts without anyone noticing.
_ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "default", "deprecated"})
_SCHEMA_MAPS = frozenset({"properties", "$defs"})  # name -> subschema
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf"})
_SCHEMAS = frozenset({"items", "additionalProperties", "propertyNames"})
_LOWER_BOUNDS = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"})
_UPPER_BOUNDS = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"})
_VALUES = frozenset({"$schema", "$id", "$ref", "type", "enum", "const", "required", "pattern"})
JSON_SCHEMA_KEYWORDS = _ANNOTATIONS | _SCHEMA_MAPS | _SCHEMA_LISTS | _SCHEMAS | _LOWER_BOUNDS | _UPPER_BOUNDS | _VALUES


def _pointer(path: tuple) -> str:
    return "#" + "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def json_schema_keywords_check(document: object, *, label: str, path: tuple = ()) -> None:
    """ContractError naming the first keyword the diff does not understand (or a value that is not a schema)."""
    if isinstance(document, bool):
        return
    if not isinstance(document, dict):
        raise ContractError(f"{label}{_pointer(path)}: not a schema (an object or a boolean)")
    for keyword, value in document.items():
        here = (*path, keyword)
        if keyword not in JSON_SCHEMA_KEYWORDS:
            raise ContractError(
                f"{label}{_pointer(here)}: keyword {keyword!r} is unknown to schema_check's JSON Schema diff, which "
                "refuses rather than ignore it; teach apps/versioning/contracts.py how it narrows or widens"
            )
        if keyword in _SCHEMA_MAPS:
            if not isinstance(value, dict):
                raise ContractError(f"{label}{_pointer(here)}: not an object")
            for name, subschema in value.items():
                json_schema_keywords_check(subschema, label=label, path=(*here, name))
        elif keyword in _SCHEMA_LISTS:
            if not isinstance(value, list):
                raise ContractError(f"{label}{_pointer(here)}: not a list")
            for index, subschema in enumerate(value):
                json_schema_keywords_check(subschema, label=label, path=(*here, index))
        elif keyword in _SCHEMAS:
            json_schema_keywords_check(value, label=label, path=here)
        elif keyword == "$ref" and not (isinstance(value, str) and value.startswith("#")):
            raise ContractError(f"{label}{_pointer(here)}: only local references (#/...) are understood")


def _types(schema: dict) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _resolve(document: dict, ref: str) -> object:
    node: object = document
    for part in ref.removeprefix("#").split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ContractError(f"$ref {ref} points at nothing")
    return node


class _JsonSchemaDiff:
    """What the live schema rejects that the released one accepted, keyword by keyword (conservatively)."""

    def __init__(self, old_document: dict, new_document: dict):
        self.old_document, self.new_document = old_document, new_document
        self.refs_open: set[tuple[str, str]] = set()

    def breaks(self, old: object, new: object, path: tuple) -> list[tuple[tuple, str]]:
        if new is True or old is False:
            return []
        if new is False:
            return [(path, "rejects every value")]
        if old is True:
            old = {}
        constraints = {key: value for key, value in new.items() if key not in _ANNOTATIONS}
        if not old and not constraints:
            return []
        found = []
        for keyword in ("$schema", "$id", "pattern", "const"):
            if keyword in new and old.get(keyword) != new[keyword]:
                verb = "added" if keyword not in old else "changed"
                found.append(((*path, keyword), f"{verb} ({old.get(keyword)!r} -> {new[keyword]!r})"))
        found += self._type(old, new, path)
        found += self._enum(old, new, path)
        found += self._bounds(old, new, path)
        found += self._required(old, new, path)
        found += self._ref(old, new, path)
        found += self._maps(old, new, path)
        found += self._properties_added(old, new, path)
        for keyword in ("items", "additionalProperties", "propertyNames"):
            if keyword in new:
                found += self.breaks(old.get(keyword, True), new[keyword], (*path, keyword))
        for keyword in ("anyOf", "oneOf"):
            found += self._branches(keyword, old, new, path)
        return found

    def _type(self, old, new, path):
        new_types = _types(new)
        if new_types is None:
            return []
        old_types = _types(old)
        if old_types is None:
            return [((*path, "type"), f"added {sorted(new_types)} (any type was accepted)")]
        lost = {t for t in old_types - new_types if not (t == "integer" and "number" in new_types)}
        return [((*path, "type"), f"narrowed: no longer {t}") for t in sorted(lost)]

    def _enum(self, old, new, path):
        if "enum" not in new:
            return []
        if "enum" not in old:
            return [((*path, "enum"), "added (any value was accepted)")]
        return [((*path, "enum"), f"value {value!r} removed") for value in old["enum"] if value not in new["enum"]]

    def _bounds(self, old, new, path):
        found = []
        for keyword in sorted(_LOWER_BOUNDS | _UPPER_BOUNDS):
            if keyword not in new:
                continue
            before, after = old.get(keyword), new[keyword]
            tighter = before is None or (after > before if keyword in _LOWER_BOUNDS else after < before)
            if tighter:
                found.append(((*path, keyword), f"tightened ({before!r} -> {after!r})"))
        return found

    def _required(self, old, new, path):
        gained = [key for key in new.get("required", []) if key not in old.get("required", [])]
        return [((*path, "required"), f"gained {key!r}") for key in gained]

    def _ref(self, old, new, path):
        if "$ref" not in new or old.get("$ref") == new["$ref"]:
            return []  # the same reference: its target is compared where it lives
        if "$ref" not in old:
            return [((*path, "$ref"), f"added {new['$ref']} (a new constraint)")]
        pair = (old["$ref"], new["$ref"])
        if pair in self.refs_open:
            return []  # a recursive reference already being compared: its breaks are reported by the outer call
        self.refs_open.add(pair)
        try:
            inner = self.breaks(_resolve(self.old_document, pair[0]), _resolve(self.new_document, pair[1]), ())
        finally:
            self.refs_open.discard(pair)
        return [((*path, "$ref"), f"{pair[0]} -> {pair[1]} narrows: {_pointer(p)}: {what}") for p, what in inner]

    def _maps(self, old, new, path):
        found = []
        for keyword in ("properties", "$defs"):
            for name, subschema in old.get(keyword, {}).items():
                here = (*path, keyword, name)
                if name not in new.get(keyword, {}):
                    found.append((here, "removed"))
                else:
                    found += self.breaks(subschema, new[keyword][name], here)
        return found

    def _properties_added(self, old, new, path):
        # A new property replaces additionalProperties for its key: a narrowing unless extra keys were refused.
        if old.get("additionalProperties", True) is False:
            return []
        found = []
        for name, subschema in new.get("properties", {}).items():
            if name not in old.get("properties", {}):
                found += self.breaks(old.get("additionalProperties", True), subschema, (*path, "properties", name))
        return found

    def _branches(self, keyword, old, new, path):
        if keyword not in new:
            return []
        if keyword not in old:
            return [((*path, keyword), "added (a new constraint)")]
        found = []
        for index, branch in enumerate(old[keyword]):
            if any(not self.breaks(branch, candidate, ()) for candidate in new[keyword]):
                continue  # some live branch accepts everything this one did (order does not matter)
            if len(new[keyword]) == len(old[keyword]):  # edited in place: say what narrowed it
                found += self.breaks(branch, new[keyword][index], (*path, keyword, index))
            else:
                found.append(((*path, keyword, index), "branch removed (no live branch accepts all it did)"))
        if keyword == "oneOf" and len(new[keyword]) > len(old[keyword]):
            found.append(((*path, keyword), "gained a branch (a value matching two branches is refused)"))
        return found


def json_schema_compare(*, label: str, old: object, new: object) -> list[str]:
    """What breaks clients of the released JSON Schema ``old`` in the live ``new``: ``label#/pointer: what``.

    ContractError when either uses a keyword the diff does not understand.
    """
    json_schema_keywords_check(old, label=label)
    json_schema_keywords_check(new, label=label)
    old_document = old if isinstance(old, dict) else {}
    new_document = new if isinstance(new, dict) else {}
    return [
        f"{label}{_pointer(p)}: {what}" for p, what in _JsonSchemaDiff(old_document, new_document).breaks(old, new, ())
    ]


def json_schemas_compare(release: Release) -> tuple[list[str], list[str]]:
    """Breaks of every JSON Schema ``release`` published, against the live file at the same path; and notes."""
    breaking, notes = [], []
    for entry in release.json_schemas:
        old, entry_notes = json_schema_snapshot(release, entry)
        notes += entry_notes
        live = project_root() / entry.path
        if not live.exists():
            breaking.append(f"{entry.path}: removed (release {release.version} published it)")
            continue
        try:
            new = json.loads(live.read_text())
        except (OSError, ValueError) as exc:
            raise ContractError(f"{entry.path}: unreadable ({exc})") from None
        breaking += json_schema_compare(label=entry.path, old=old, new=new)
    return breaking, notes


# --------------------------------------------------------------------------- the whole check


@dataclass
class ContractReport:
    """schema_check's answer: the baseline, the comparison, refused allowances and the second opinion."""

    baseline: Baseline
    schema: SchemaReport
    allowance_errors: list[str]
    unmatched: list[str]  # pending allowances that match no change (warnings)
    second_opinion: InspectorVerdict | None = None
    json_schemas: list[str] = field(default_factory=list)  # breaking changes to published JSON Schemas

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
        return self.schema.ok and not self.json_schemas and not self.allowance_errors and self.disagreement is None


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
    json_breaking: list[str] = []
    if baseline.release is not None:
        json_breaking, notes = json_schemas_compare(baseline.release)
        baseline.notes.extend(notes)
    # An allowance never waives a JSON Schema break; one written for it is refused, not left as a mere warning.
    waivers = [entry for entry in allowances.pending if entry.description in json_breaking]
    unmatched = [line for line in unmatched if not any(line.startswith(entry.label) for entry in waivers)]
    refused = [
        f"{entry.label}: a published JSON Schema cannot be narrowed within its version; publish a new versioned file"
        for entry in waivers
    ]
    verdict = inspector_diff(old_sdl=baseline.sdl, new_sdl=print_schema(live)) if second_opinion else None
    return ContractReport(
        baseline=baseline,
        schema=report,
        allowance_errors=allowances.errors + refused,
        unmatched=unmatched,
        second_opinion=verdict,
        json_schemas=json_breaking,
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
