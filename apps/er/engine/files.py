"""Reading record, truth and mapping files (CSV and JSON) for evaluation runs.

Every problem is an ``InputError`` with one line saying what is wrong and where.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from apps.er.engine import schema


class InputError(ValueError):
    """A records, truth or mapping file the engine cannot use."""


@dataclass
class RecordsFile:
    kind: str
    records: list[tuple[str, dict]]
    sources: list[int] | None  # source number per record when the file has a source_dataset column
    columns: dict[str, str]  # header -> attribute (or composite target) read
    ignored: list[str] = field(default_factory=list)  # headers not read
    source_names: list[str] = field(default_factory=list)


def _open(path: str | Path, what: str):
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file {str(path)!r} does not exist")
    try:
        return path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{what} file {str(path)!r} cannot be read: {exc.strerror}") from None


def read_mapping(path: str | Path) -> dict[str, str | None]:
    """A JSON object mapping CSV headers onto attributes (or null to ignore a column)."""
    with _open(path, "mapping") as handle:
        try:
            data = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"mapping file {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and (value is None or isinstance(value, str)) for key, value in data.items()
    ):
        raise InputError(f'mapping file {str(path)!r} must be a JSON object of "header": "attribute" (or null)')
    return data


def read_records(path: str | Path, *, kind: str | None = None, mapping: dict | None = None) -> RecordsFile:
    """Records of a CSV with a ``record_id`` column and attribute columns (see docs/er.md)."""
    with _open(path, "records") as handle:
        try:
            reader = csv.DictReader(handle)
            headers = [h for h in (reader.fieldnames or []) if h is not None]
            if schema.RECORD_ID not in headers:
                raise InputError(
                    f"records file {str(path)!r} has no {schema.RECORD_ID} column (its columns: {', '.join(headers) or 'none'})"
                )
            if mapping:
                unknown = sorted(set(mapping) - set(headers))
                if unknown:
                    raise InputError(f"mapping names columns the records file does not have: {', '.join(unknown)}")
            kind = kind or schema.guess_kind(headers)
            try:
                columns = schema.recognise(headers, kind, mapping)
            except ValueError as exc:
                raise InputError(str(exc)) from None
            if not columns:
                raise InputError(f"records file {str(path)!r} has no column the engine reads for {kind} records")
            records: list[tuple[str, dict]] = []
            source_names: list[str] = []
            seen: set[str] = set()
            has_source = schema.SOURCE in headers
            for line, row in enumerate(reader, start=2):
                record_id = (row.get(schema.RECORD_ID) or "").strip()
                if not record_id:
                    raise InputError(f"records file {str(path)!r}, line {line}: empty {schema.RECORD_ID}")
                if record_id in seen:
                    raise InputError(
                        f"records file {str(path)!r}, line {line}: {schema.RECORD_ID} {record_id!r} repeats"
                    )
                seen.add(record_id)
                records.append((record_id, schema.to_attributes(row, columns)))
                if has_source:
                    source_names.append((row.get(schema.SOURCE) or "").strip())
        except csv.Error as exc:
            raise InputError(f"records file {str(path)!r} is not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"records file {str(path)!r} is not UTF-8 text") from None
    sources = None
    names: list[str] = []
    if has_source:
        names = sorted(set(source_names))
        number = {name: k for k, name in enumerate(names)}
        sources = [number[name] for name in source_names]
    ignored = [h for h in headers if h not in columns and h not in (schema.RECORD_ID, schema.SOURCE)]
    return RecordsFile(kind, records, sources, columns, ignored, names)


def read_truth(path: str | Path, record_ids: set[str]) -> list[tuple[str, str]]:
    """Unordered pairs of record ids that are the same real entity (columns ``id_a,id_b``)."""
    pairs: list[tuple[str, str]] = []
    with _open(path, "truth") as handle:
        try:
            reader = csv.DictReader(handle)
            headers = [h.strip() for h in (reader.fieldnames or []) if h is not None]
            if "id_a" not in headers or "id_b" not in headers:
                raise InputError(
                    f"truth file {str(path)!r} must have the columns id_a,id_b (it has: {', '.join(headers) or 'none'})"
                )
            unknown: list[str] = []
            for line, row in enumerate(reader, start=2):
                a, b = (row.get("id_a") or "").strip(), (row.get("id_b") or "").strip()
                if not a or not b:
                    raise InputError(f"truth file {str(path)!r}, line {line}: id_a and id_b must both be given")
                if a == b:
                    raise InputError(f"truth file {str(path)!r}, line {line}: a record paired with itself ({a!r})")
                unknown.extend(x for x in (a, b) if x not in record_ids)
                pairs.append((a, b) if a < b else (b, a))
        except csv.Error as exc:
            raise InputError(f"truth file {str(path)!r} is not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"truth file {str(path)!r} is not UTF-8 text") from None
    if unknown:
        shown = ", ".join(sorted(set(unknown))[:5])
        raise InputError(
            f"truth file {str(path)!r} names {len(set(unknown))} record id(s) not in the records file: {shown}"
        )
    return pairs
