"""Bulk import of entities and relationships from a JSON Lines or CSV file (format: docs/import-format.md).

An import is all or nothing. The whole file is read and checked first, every
problem is collected with its line number, and a file with any problem raises
``ImportRejected`` before a row is written. A clean file is written in one
transaction through the bulk writer (``apps.core.bulk``), yet leaves the trail the
single-row services leave: a ``Source``, one ``Provenance`` row per created or
updated record, outbox rows for the graph projection and online entity resolution,
and one ``entities.imported`` audit event carrying the counts and the file's SHA-256.

Fields are checked by the services' own ``validate_entity_fields`` and
``validate_relationship_fields``, so a file can hold nothing the admin or the
API would refuse.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.expressions import RawSQL
from psycopg.errors import UniqueViolation

from apps.core.bulk import (
    ENTITY_CHANGED,
    ENTITY_NEW,
    PROVENANCE_NEW,  # noqa: F401 - re-exported: tests check the columns the bulk writer fills
    RELATIONSHIP_CHANGED,
    RELATIONSHIP_NEW,
    BulkWrite,
    bulk_write,
)
from apps.core.choices import ProvenanceMethod, Sensitivity, SourceKind
from apps.core.ids import uuid7
from apps.core.models import Entity, Relationship, Source, Tenant
from apps.core.services import source_get_or_create, validate_entity_fields, validate_relationship_fields

MAX_ERRORS = 100
LOOKUP_CHUNK = 5000
MAX_EXTERNAL_ID = 200  # Entity.external_id and Relationship.external_id
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
CSV_SUFFIXES = frozenset({".csv"})
ENTITY_KEYS = ("type", "external_id", "kind", "name", "attributes", "sensitivity", "labels")
RELATIONSHIP_KEYS = ("type", "external_id", "kind", "from", "to", "attributes", "sensitivity")
CSV_REQUIRED = ("external_id", "kind", "name")
_IMPORT_LOCK_CLASS = 0x1A_0D18  # first key of the per-tenant advisory lock that serialises imports
_FIELD_NAMES = {"display_name": "name"}  # the services' field names as the file spells them

Progress = Callable[[str, int, int], None]


# --------------------------------------------------------------------------- results and failures


class ImportFailed(Exception):
    """The import did not happen; nothing was written."""


class ImportFileError(ImportFailed):
    """The file could not be read at all: missing, a directory, or not readable."""


class ImportRejected(ImportFailed):
    """The file has problems. ``errors`` holds the first ``MAX_ERRORS`` as (line, message), in line order."""

    def __init__(self, errors: list[tuple[int, str]], *, more: int = 0):
        self.errors = errors
        self.more = more
        super().__init__(f"{self.total} problem(s) in the file; nothing was imported")

    @property
    def total(self) -> int:
        return len(self.errors) + self.more


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class ImportReport:
    """What an import did: counts per kind of record, where the data came from, and how long it took."""

    file_name: str
    format: str
    sha256: str
    records: int
    source: Source
    entities: ImportCounts
    relationships: ImportCounts
    seconds: float


# --------------------------------------------------------------------------- the service


def entities_import(
    *, tenant: Tenant, path_or_stream, actor, source_name: str | None = None, progress: Progress | None = None
) -> ImportReport:
    """Check a whole JSON Lines or CSV file, then create or update its entities and relationships in ``tenant``.

    Entities are matched by external id, relationships by external id or else by
    (kind, from, to); a record whose fields are already stored is left alone.
    Raises ``ImportRejected`` (all problems, by line) or ``ImportFileError``, and
    then nothing has been written. ``progress(stage, done, total)`` is called now
    and then, with stage "checking" (lines) and then "writing" (records).
    """
    started = time.monotonic()
    upload = _read(path_or_stream)
    parsed = _parse(upload, progress)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Two imports into one tenant take turns, so the second sees the first's rows.
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_IMPORT_LOCK_CLASS, tenant.pk])
            plan = _plan(tenant, parsed)
            if parsed.problems.count or plan.problems.count:
                errors, more = _merge_problems(parsed.problems, plan.problems)
                raise ImportRejected(errors, more=more)
            source = source_get_or_create(
                tenant=tenant, name=source_name or upload.name, kind=SourceKind.IMPORT, uri=upload.uri
            )
            with bulk_write(tenant=tenant, source=source, method=ProvenanceMethod.IMPORT, actor=actor) as write:
                _write(write, plan=plan, file_name=upload.name, progress=progress)
                write.audit_record(
                    "entities.imported",
                    target=source,
                    payload={
                        "source": source.name,
                        "file": upload.name,
                        "uri": upload.uri,
                        "sha256": upload.sha256,
                        "format": parsed.format,
                        "records": parsed.records,
                        "entities": plan.entity_counts.as_dict(),
                        "relationships": plan.relationship_counts.as_dict(),
                    },
                )
    except IntegrityError as exc:
        if not isinstance(exc.__cause__, UniqueViolation):
            raise
        # The file was checked against the tenant under the import lock, so only a concurrent write outside
        # the importer (the same external id created by hand a moment ago) gets here.
        raise ImportFailed(
            f"the tenant's data changed while importing ({str(exc).splitlines()[0]}); nothing was imported, "
            "run the import again"
        ) from exc
    return ImportReport(
        file_name=upload.name,
        format=parsed.format,
        sha256=upload.sha256,
        records=parsed.records,
        source=source,
        entities=plan.entity_counts,
        relationships=plan.relationship_counts,
        seconds=time.monotonic() - started,
    )


# --------------------------------------------------------------------------- reading


@dataclass
class _Upload:
    name: str  # the file's base name, used in record_ref ("people.jsonl:12")
    uri: str
    data: bytes
    sha256: str


def _read(path_or_stream) -> _Upload:
    if isinstance(path_or_stream, (str, os.PathLike)):
        path = Path(path_or_stream)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImportFileError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ImportFileError(f"{path}: is a directory, not a file") from None
        except PermissionError:
            raise ImportFileError(f"{path}: permission denied") from None
        except OSError as exc:
            raise ImportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        name, uri = path.name, os.path.abspath(path)
    else:
        data = path_or_stream.read()
        if isinstance(data, str):
            data = data.encode()
        stream_name = getattr(path_or_stream, "name", None)
        uri = stream_name if isinstance(stream_name, str) else ""
        name = Path(uri).name or "stream"
    return _Upload(name=name, uri=uri, data=data, sha256=hashlib.sha256(data).hexdigest())


# --------------------------------------------------------------------------- checking the file


class _Problems:
    """Problems in line order; keeps the first MAX_ERRORS messages and counts the rest."""

    def __init__(self):
        self.kept: list[tuple[int, str]] = []
        self.count = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_ERRORS:
            self.kept.append((line, message))


def _merge_problems(*groups: _Problems) -> tuple[list[tuple[int, str]], int]:
    # Each group is in line order, so its first MAX_ERRORS hold every candidate for the merged first MAX_ERRORS.
    merged = sorted((p for group in groups for p in group.kept), key=lambda p: p[0])[:MAX_ERRORS]
    return merged, sum(group.count for group in groups) - len(merged)


@dataclass(slots=True)
class _EntityLine:
    line: int
    external_id: str
    kind: str
    display_name: str
    attributes: dict | None  # None: the line gave none, so stored attributes stay
    sensitivity: int | None  # None: not given, so internal when created and kept when updated
    labels: list[str] | None  # None: not given, so none when created and kept when updated


@dataclass(slots=True)
class _RelationshipLine:
    line: int
    external_id: str | None
    kind: str
    from_ref: str
    to_ref: str
    attributes: dict | None
    sensitivity: int | None


@dataclass
class _Parsed:
    format: str
    records: int = 0  # non-blank lines (JSONL) or rows (CSV)
    entities: list[_EntityLine] = field(default_factory=list)
    relationships: list[_RelationshipLine] = field(default_factory=list)
    # Every external id an entity line claims, even a line with other problems, so that
    # relationships to it are not also reported as dangling.
    entity_ids: dict[str, int] = field(default_factory=dict)  # external id -> first line
    problems: _Problems = field(default_factory=_Problems)


def _parse(upload: _Upload, progress: Progress | None) -> _Parsed:
    try:
        text = upload.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = upload.data.count(b"\n", 0, exc.start) + 1
        raise ImportRejected(
            [(line, f"not UTF-8 text (byte 0x{upload.data[exc.start]:02x}); save the file as UTF-8")]
        ) from None
    if text.startswith("\ufeff"):  # spreadsheet programs often write a byte-order mark
        text = text[1:]
    fmt = _detect_format(upload.name, text)
    parsed = _Parsed(format=fmt)
    if fmt == "jsonl":
        _parse_jsonl(text, parsed, progress)
    else:
        _parse_csv(text, parsed, progress)
    if not parsed.problems.count and not parsed.entities and not parsed.relationships:
        parsed.problems.add(1, "the file holds no entities or relationships")
    return parsed


def _detect_format(name: str, text: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in CSV_SUFFIXES:
        return "csv"
    first = re.search(r"\S", text)
    return "jsonl" if first and first.group() in ("{", "[") else "csv"


def _lines(text: str) -> Iterator[tuple[int, str]]:
    # Not str.splitlines(): that also splits at U+2028 and friends, which JSON allows inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _parse_jsonl(text: str, parsed: _Parsed, progress: Progress | None) -> None:
    total = text.count("\n") + 1
    decoder = json.JSONDecoder(parse_constant=_reject_constant)  # NaN and Infinity: PostgreSQL's jsonb refuses them
    problems = parsed.problems
    for number, line in _lines(text):
        if progress and number % 5000 == 0:
            progress("checking", number, total)
        if not line.strip():
            continue
        parsed.records += 1
        try:
            obj = decoder.decode(line)
        except json.JSONDecodeError as exc:
            problems.add(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except ValueError as exc:
            problems.add(number, f"invalid JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            hint = "; write one object per line (JSON Lines), not a JSON array" if isinstance(obj, list) else ""
            problems.add(number, f"expected a JSON object, got {_json_type(obj)}{hint}")
            continue
        if "\\u" in line and (reason := _unstorable(obj)):
            problems.add(number, reason)
            continue
        kind_of_line = obj.get("type", "entity")
        if kind_of_line == "entity":
            _check_entity(obj, number, parsed)
        elif kind_of_line == "relationship":
            _check_relationship(obj, number, parsed)
        else:
            problems.add(number, f"type: unknown type {kind_of_line!r}; use 'entity' or 'relationship'")
    if progress:
        progress("checking", total, total)


def _parse_csv(text: str, parsed: _Parsed, progress: Progress | None) -> None:
    total = text.count("\n") + 1
    problems = parsed.problems
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        problems.add(1, f"CSV: {exc}")
        return
    if header is None:
        return
    columns = [name.strip() for name in header]
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if missing:
        problems.add(
            1, f"missing required column(s) {', '.join(missing)}; the header must name {', '.join(CSV_REQUIRED)}"
        )
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        problems.add(1, f"column(s) named twice: {', '.join(repeated)}")
    if missing or repeated:
        return
    unnamed = [i for i, name in enumerate(columns) if not name]
    while True:
        number = reader.line_num + 1  # a quoted cell may span lines; a record is reported at its first line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.add(number, f"CSV: {exc}")
            break
        if progress and number % 5000 == 0:
            progress("checking", number, total)
        if not any(cell.strip() for cell in cells):
            continue
        parsed.records += 1
        if len(cells) != len(columns):
            problems.add(number, f"the row has {len(cells)} cells; the header has {len(columns)}")
            continue
        if any(cells[i].strip() for i in unnamed):
            problems.add(number, "a value is in a column that has no name in the header")
            continue
        row = {name: cell.strip() for name, cell in zip(columns, cells, strict=True) if name}
        obj = {name: row[name] for name in CSV_REQUIRED}
        if row.get("sensitivity"):
            obj["sensitivity"] = row["sensitivity"]
        if row.get("labels"):
            obj["labels"] = [label.strip() for label in row["labels"].split(";") if label.strip()]
        attributes = {
            name: value
            for name, value in row.items()
            if value and name and name not in (*CSV_REQUIRED, "sensitivity", "labels")
        }
        if attributes:
            obj["attributes"] = attributes
        _check_entity(obj, number, parsed)
    if progress:
        progress("checking", total, total)


def _check_entity(obj: dict, number: int, parsed: _Parsed) -> None:
    problems = parsed.problems
    reported = _unknown_keys(obj, ENTITY_KEYS, "an entity", number, problems)
    external_id = _external_id(obj.get("external_id"))
    if external_id is None:
        problems.add(number, f"external_id: required; a non-empty string of at most {MAX_EXTERNAL_ID} characters")
        reported = True
    elif external_id in parsed.entity_ids:
        first = parsed.entity_ids[external_id]
        problems.add(number, f"external_id: {external_id!r} appears twice in the file (first on line {first})")
        reported = True
    else:
        parsed.entity_ids[external_id] = number
    if obj.get("kind") in (None, ""):
        problems.add(number, "kind: required")
        reported = True
    sensitivity, labels, attributes = obj.get("sensitivity"), obj.get("labels"), obj.get("attributes")
    try:
        fields = validate_entity_fields(
            kind=obj.get("kind"),
            display_name=obj.get("name"),
            attributes=attributes,
            sensitivity=Sensitivity.INTERNAL if sensitivity is None else sensitivity,
            labels=labels,
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            if name == "kind" and obj.get("kind") in (None, ""):
                continue  # already said it is required
            for message in messages:
                problems.add(number, f"{_FIELD_NAMES.get(name, name)}: {message}")
        return
    if reported:
        return
    entity = _EntityLine(
        line=number,
        external_id=external_id,
        kind=fields["kind"],
        display_name=fields["display_name"],
        attributes=None if attributes is None else fields["attributes"],
        sensitivity=None if sensitivity is None else fields["sensitivity"],
        labels=None if labels is None else fields["labels"],
    )
    parsed.entities.append(entity)


def _check_relationship(obj: dict, number: int, parsed: _Parsed) -> None:
    problems = parsed.problems
    reported = _unknown_keys(obj, RELATIONSHIP_KEYS, "a relationship", number, problems)
    external_id = None
    if obj.get("external_id") is not None:
        external_id = _external_id(obj["external_id"])
        if external_id is None:
            problems.add(number, f"external_id: a non-empty string of at most {MAX_EXTERNAL_ID} characters")
            reported = True
    ends = {}
    for end in ("from", "to"):
        ends[end] = _external_id(obj.get(end))
        if ends[end] is None:
            problems.add(number, f"{end}: required; the external id of an entity in this file or in the tenant")
            reported = True
    if ends["from"] is not None and ends["from"] == ends["to"]:
        problems.add(number, f"from and to are the same entity {ends['from']!r}; a relationship links two entities")
        reported = True
    if obj.get("kind") in (None, ""):
        problems.add(number, "kind: required")
        reported = True
    sensitivity, attributes = obj.get("sensitivity"), obj.get("attributes")
    try:
        fields = validate_relationship_fields(
            kind=obj.get("kind"),
            attributes=attributes,
            sensitivity=Sensitivity.INTERNAL if sensitivity is None else sensitivity,
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            if name == "kind" and obj.get("kind") in (None, ""):
                continue
            for message in messages:
                problems.add(number, f"{name}: {message}")
        return
    if reported:
        return
    relationship = _RelationshipLine(
        line=number,
        external_id=external_id,
        kind=fields["kind"],
        from_ref=ends["from"],
        to_ref=ends["to"],
        attributes=None if attributes is None else fields["attributes"],
        sensitivity=None if sensitivity is None else fields["sensitivity"],
    )
    parsed.relationships.append(relationship)


def _unknown_keys(obj: dict, allowed: tuple[str, ...], what: str, number: int, problems: _Problems) -> bool:
    # A misspelt optional field ("sensitivty") would otherwise be dropped without a word.
    unknown = [key for key in obj if key not in allowed]
    if unknown:
        problems.add(
            number,
            f"unknown field(s) {', '.join(map(repr, unknown))}; {what} has {', '.join(k for k in allowed if k != 'type')}",
        )
    return bool(unknown)


def _external_id(value) -> str | None:
    """An external id as stored: a string (or integer) with surrounding blanks trimmed; None if unusable."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_EXTERNAL_ID:
        return None
    return value


def _json_type(value) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _unstorable(value) -> str | None:
    """Why PostgreSQL could not store this parsed JSON (a NUL or an unpaired surrogate escape), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "contains \\u0000, which PostgreSQL cannot store"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate escape (\\ud800-\\udfff), which is not a character"
        return None
    if isinstance(value, dict):
        return next((r for item in value.items() for part in item if (r := _unstorable(part))), None)
    if isinstance(value, list):
        return next((r for part in value if (r := _unstorable(part))), None)
    return None


# --------------------------------------------------------------------------- matching against the tenant

# The plan holds rows as tuples in the bulk writer's field orders (ENTITY_NEW, ENTITY_CHANGED, RELATIONSHIP_NEW,
# RELATIONSHIP_CHANGED, PROVENANCE_NEW): building 100k model instances costs more than writing them.


@dataclass
class _Plan:
    problems: _Problems = field(default_factory=_Problems)
    entity_counts: ImportCounts = field(default_factory=ImportCounts)
    relationship_counts: ImportCounts = field(default_factory=ImportCounts)
    entities_new: list[tuple] = field(default_factory=list)
    entities_changed: list[tuple] = field(default_factory=list)
    relationships_new: list[tuple] = field(default_factory=list)
    relationships_changed: list[tuple] = field(default_factory=list)
    # (entity id or None, relationship id or None, attribute names, line) per created or updated record
    provenance: list[tuple] = field(default_factory=list)
    total: int = 0


def _chunks(items: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _one_array(values: list, sql_type: str) -> RawSQL:
    """``IN (SELECT unnest(%s))`` with one array parameter: psycopg scans the SQL text once per placeholder."""
    return RawSQL(f"SELECT unnest(%s::{sql_type}[])", (values,))  # noqa: S611 - the type is one of ours


def _same_json(a, b) -> bool:
    """Equal as JSON values: unlike ==, true is not 1 and 1 is not 1.0, since storing either would change the row."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_json(value, b[key]) for key, value in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same_json, a, b))
    return a == b


def _plan(tenant: Tenant, parsed: _Parsed) -> _Plan:
    plan = _Plan(total=len(parsed.entities) + len(parsed.relationships))
    entity_pk = _plan_entities(tenant, parsed, plan)
    _plan_relationships(tenant, parsed, plan, entity_pk)
    return plan


def _plan_entities(tenant: Tenant, parsed: _Parsed, plan: _Plan) -> dict[str, object]:
    """Sort the file's entities into new, changed and unchanged; return external id -> pk of every end found."""
    stored = {}
    for chunk in _chunks([e.external_id for e in parsed.entities]):
        rows = Entity.objects.filter(tenant=tenant, external_id__in=_one_array(chunk, "text")).values_list(
            "external_id", *ENTITY_CHANGED
        )
        stored.update((row[0], row[1:]) for row in rows)
    entity_pk: dict[str, object] = {}
    for line in parsed.entities:
        given = line.attributes or {}
        current = stored.get(line.external_id)
        if current is None:
            pk = uuid7()
            sensitivity = Sensitivity.INTERNAL if line.sensitivity is None else line.sensitivity
            plan.entities_new.append(
                (pk, line.external_id, line.kind, line.display_name, given, sensitivity, line.labels or [])
            )
            plan.provenance.append((pk, None, sorted(given), line.line))
            plan.entity_counts.created += 1
            entity_pk[line.external_id] = pk
            continue
        pk, _, _, attributes, sensitivity, labels = current
        entity_pk[line.external_id] = pk
        new = (
            pk,
            line.kind,
            line.display_name,
            {**attributes, **given},
            sensitivity if line.sensitivity is None else line.sensitivity,
            labels if line.labels is None else line.labels,
        )
        if all(_same_json(a, b) for a, b in zip(new[1:], current[1:], strict=True)):
            plan.entity_counts.unchanged += 1
            continue
        plan.entities_changed.append(new)
        plan.provenance.append((pk, None, sorted(given), line.line))
        plan.entity_counts.updated += 1
    # Ends that are not in the file must already be in the tenant.
    refs = sorted({ref for r in parsed.relationships for ref in (r.from_ref, r.to_ref) if ref not in parsed.entity_ids})
    for chunk in _chunks(refs):
        entity_pk.update(
            Entity.objects.filter(tenant=tenant, external_id__in=_one_array(chunk, "text")).values_list(
                "external_id", "id"
            )
        )
    return entity_pk


def _stored_relationships(tenant: Tenant, parsed: _Parsed, entity_pk: dict) -> tuple[dict, dict]:
    """Stored relationships the file may update: by external id, and by (kind, from pk, to pk) for lines without one."""
    by_external_id = {}
    for chunk in _chunks([r.external_id for r in parsed.relationships if r.external_id is not None]):
        rows = Relationship.objects.filter(tenant=tenant, external_id__in=_one_array(chunk, "text")).values_list(
            "external_id",
            *RELATIONSHIP_CHANGED,
            "from_entity_id",
            "to_entity_id",
            "from_entity__external_id",
            "to_entity__external_id",
        )
        by_external_id.update((row[0], row[1:]) for row in rows)
    wanted = {
        (r.kind, entity_pk[r.from_ref], entity_pk[r.to_ref])
        for r in parsed.relationships
        if r.external_id is None and r.from_ref in entity_pk and r.to_ref in entity_pk
    }
    by_key: dict[tuple, tuple] = {}
    for chunk in _chunks(sorted({key[1] for key in wanted}, key=str)):
        # Ids are time-ordered: when several stored relationships match, the oldest is the one updated.
        rows = Relationship.objects.filter(tenant=tenant, from_entity_id__in=_one_array(chunk, "uuid")).order_by("id")
        for row in rows.values_list("from_entity_id", "to_entity_id", *RELATIONSHIP_CHANGED):
            key = (row[3], row[0], row[1])
            if key in wanted:
                by_key.setdefault(key, row[2:])
    return by_external_id, by_key


def _plan_relationships(tenant: Tenant, parsed: _Parsed, plan: _Plan, entity_pk: dict[str, object]) -> None:
    problems = plan.problems
    by_external_id, by_key = _stored_relationships(tenant, parsed, entity_pk)
    first_line: dict[object, int] = {}  # external id, (kind, from, to) or stored pk -> the line that claimed it
    for line in parsed.relationships:
        dangling = False
        for end, ref in (("from", line.from_ref), ("to", line.to_ref)):
            if ref not in entity_pk and ref not in parsed.entity_ids:  # an entity line with problems is reported there
                problems.add(
                    line.line, f"{end}: no entity with external id {ref!r} in this file or in tenant {tenant.slug!r}"
                )
                dangling = True
        claim = (
            ("id", line.external_id) if line.external_id is not None else ("key", line.kind, line.from_ref, line.to_ref)
        )
        if claim in first_line:
            problems.add(line.line, _duplicate_relationship(line, first_line[claim]))
            continue
        first_line[claim] = line.line
        if dangling or line.from_ref not in entity_pk or line.to_ref not in entity_pk:
            continue
        from_pk, to_pk = entity_pk[line.from_ref], entity_pk[line.to_ref]
        current = None
        if line.external_id is not None and line.external_id in by_external_id:
            *current, stored_from, stored_to, from_ref, to_ref = by_external_id[line.external_id]
            if (stored_from, stored_to) != (from_pk, to_pk):
                problems.add(
                    line.line,
                    f"relationship {line.external_id!r} links {from_ref!r} -> {to_ref!r}; an import cannot move its ends",
                )
                continue
        elif line.external_id is None:
            current = by_key.get((line.kind, from_pk, to_pk))
        given = line.attributes or {}
        if current is None:
            pk = uuid7()
            sensitivity = Sensitivity.INTERNAL if line.sensitivity is None else line.sensitivity
            plan.relationships_new.append((pk, line.external_id, line.kind, from_pk, to_pk, given, sensitivity))
            plan.provenance.append((None, pk, sorted(given), line.line))
            plan.relationship_counts.created += 1
            continue
        pk, _, attributes, sensitivity = current
        if pk in first_line:
            problems.add(line.line, f"updates the same stored relationship as line {first_line[pk]}")
            continue
        first_line[pk] = line.line
        new = (pk, line.kind, {**attributes, **given}, sensitivity if line.sensitivity is None else line.sensitivity)
        if all(_same_json(a, b) for a, b in zip(new[1:], current[1:], strict=True)):
            plan.relationship_counts.unchanged += 1
            continue
        plan.relationships_changed.append(new)
        plan.provenance.append((None, pk, sorted(given), line.line))
        plan.relationship_counts.updated += 1


def _duplicate_relationship(line: _RelationshipLine, first: int) -> str:
    if line.external_id is not None:
        return f"external_id: {line.external_id!r} appears twice in the file (first on line {first})"
    return (
        f"the relationship {line.from_ref!r} -[{line.kind}]-> {line.to_ref!r} is also on line {first}; "
        "give each an external_id to import both"
    )


# --------------------------------------------------------------------------- writing


def _write(write: BulkWrite, *, plan: _Plan, file_name: str, progress: Progress | None) -> None:
    """The plan through the bulk writer, which adds the outbox rows for every written record."""
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress("writing", done, plan.total)

    write.entities_create(plan.entities_new, columns=ENTITY_NEW, advance=advance)
    write.entities_update(plan.entities_changed, advance=advance)
    advance(plan.entity_counts.unchanged)
    write.relationships_create(plan.relationships_new, columns=RELATIONSHIP_NEW, advance=advance)
    write.relationships_update(plan.relationships_changed, advance=advance)
    advance(plan.relationship_counts.unchanged)
    write.provenance_add((e, r, names, f"{file_name}:{line}"[:300]) for e, r, names, line in plan.provenance)
