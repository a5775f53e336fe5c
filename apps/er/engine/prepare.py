"""Records normalised once into columns, so blocking and comparison work on arrays of pairs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import jellyfish
import numpy as np

from apps.er.engine import normalize as norm
from apps.er.engine.nicknames import related_names
from apps.er.engine.schema import ORGANIZATION, PERSON

EMPTY: frozenset[str] = frozenset()


def _phonetic(word: str) -> str:
    return jellyfish.metaphone(word) if word else ""


@dataclass
class Prepared:
    """Normalised columns of a set of records of one kind; row ``i`` is ``ids[i]``."""

    kind: str
    ids: list[str]
    sources: np.ndarray  # int32 source number per record; all 0 when the records come from one source
    cols: dict[str, list] = field(default_factory=dict)
    nums: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Record id -> row, built once."""
        return {record_id: k for k, record_id in enumerate(self.ids)}

    def rows(self, pairs: Sequence[tuple]) -> tuple[np.ndarray, np.ndarray]:
        """The rows ``(i, j)`` of pairs given by record ids (``(id_a, id_b, …)``; anything after the ids is ignored)."""
        row_of = self.row_of
        i = np.fromiter((row_of[pair[0]] for pair in pairs), dtype=np.int64, count=len(pairs))
        j = np.fromiter((row_of[pair[1]] for pair in pairs), dtype=np.int64, count=len(pairs))
        return i, j

    @property
    def linking(self) -> bool:
        """True when the records come from more than one source: only pairs across sources are compared."""
        return bool(len(self.sources)) and int(self.sources.min()) != int(self.sources.max())


def _address(attrs: Mapping, row: dict) -> None:
    street_name, numbers = norm.street(attrs.get("street"))
    row["street_name"] = street_name
    row["house"] = numbers
    row["addr2"] = norm.fold(norm.text(attrs.get("address_line_2")))
    row["city"] = norm.fold(norm.text(attrs.get("city")))
    row["postcode"] = norm.postcode(attrs.get("postal_code"))
    row["region"] = norm.fold(norm.text(attrs.get("region")))
    row["country"] = norm.fold(norm.text(attrs.get("country")))
    row["phone"] = norm.phone(attrs.get("phone"))
    row["email"] = norm.email(attrs.get("email"))


def _person(attrs: Mapping) -> dict:
    given_tokens = norm.name_tokens(attrs.get("given_name"))
    family_tokens = norm.name_tokens(attrs.get("family_name"))
    # Initials after the first given name are middle initials ("John A." -> "john"): they add little and a
    # source that drops them must not lose the match.
    given = given_tokens[0] if given_tokens else ""
    rest = [token for token in given_tokens[1:] if len(token) > 1]
    family = " ".join(family_tokens)
    dob = norm.date_parts(attrs.get("birth_date"))
    row = {
        "given": given,
        "given_all": " ".join([given, *rest]) if given else "",
        "family": family,
        "family_tokens": frozenset(token for token in family_tokens if len(token) > 1),
        "ph_given": _phonetic(given) if len(given) > 1 else "",
        "ph_family": _phonetic(family_tokens[0]) if family_tokens else "",
        "nick": related_names(given) if len(given) > 1 else EMPTY,
        "dob": norm.date_digits(dob),
        "year": dob[0],
        "month": dob[1],
        "day": dob[2],
        "nid": norm.identifier(attrs.get("national_id")),
        "gender": norm.gender(attrs.get("gender")),
    }
    _address(attrs, row)
    return row


def _organisation(attrs: Mapping) -> dict:
    core, form = norm.organisation_name(attrs.get("legal_name"))
    words = norm.organisation_key_words(core)
    country = norm.text(attrs.get("country"))
    inc = norm.date_parts(attrs.get("incorporation_date"))
    email = norm.email(attrs.get("email"))
    row = {
        "name": core,
        "name_sorted": " ".join(sorted(words)),
        "name_first": words[0] if words else "",
        "ph_name": _phonetic(words[0]) if words else "",
        "form": form,
        "reg": norm.identifier(attrs.get("registration_number"), country),
        "tax": norm.identifier(attrs.get("tax_id"), country),
        "dob": norm.date_digits(inc),
        "year": inc[0],
        "month": inc[1],
        "day": inc[2],
        "domain": norm.domain(attrs.get("website")) or (norm.domain(email) if email else ""),
    }
    _address(attrs, row)
    return row


NUMERIC = ("year", "month", "day")


def prepare(records: Iterable[tuple[str, Mapping]], kind: str, sources: Iterable[int] | None = None) -> Prepared:
    """Normalise ``(record id, attributes)`` pairs of one kind into columns."""
    if kind not in (PERSON, ORGANIZATION):
        raise ValueError(f"unknown kind {kind!r}")
    build = _person if kind == PERSON else _organisation
    ids: list[str] = []
    rows: list[dict] = []
    for record_id, attrs in records:
        ids.append(str(record_id))
        rows.append(build(attrs))
    source_array = np.zeros(len(ids), dtype=np.int32) if sources is None else np.asarray(list(sources), dtype=np.int32)
    prepared = Prepared(kind=kind, ids=ids, sources=source_array)
    if rows:
        for key in rows[0]:
            values = [row[key] for row in rows]
            if key in NUMERIC:
                prepared.nums[key] = np.asarray(values, dtype=np.int32)
            else:
                prepared.cols[key] = values
    else:
        template = build({})
        for key in template:
            if key in NUMERIC:
                prepared.nums[key] = np.zeros(0, dtype=np.int32)
            else:
                prepared.cols[key] = []
    return prepared
