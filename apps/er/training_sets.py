"""Labelled training sets for the ER model, built from the demo generator (``manage.py er_train``).

Everything here is deterministic for a seed.

* **Training sets** (``training_sets``): persons and organisations from the demo generator
  (seeds and tenant positions of their own), with generic extra noise on part of the duplicates,
  extra noisy copies and generic hard non-matches (``apps.er.engine.noise``: relatives, namesakes,
  same-name parents and children, twins, sister companies), and companies with phones, e-mails and
  tax numbers (``with_contacts``; demo companies have none).
* The record sets they start from (``demo_sets``) are also what the ER benchmark
  (``tools/bench/er.py``, ``make bench-er``) evaluates on, with seeds and tenant positions of its own,
  never the training ones (docs/adr/0006-er-scoring-model.md).
"""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from dataclasses import dataclass

from apps.core.demo import TenantGenerator
from apps.er.engine import noise
from apps.er.engine.schema import ORGANIZATION, PERSON
from apps.er.engine.training import LabelledSet

# (seed, tenant position, entities): the positions pick the tenant country mixes.
TRAINING_TENANTS = ((101, 0, 30_000), (102, 1, 30_000), (103, 2, 20_000), (104, 3, 20_000))


@dataclass
class RecordSet:
    """Records of one kind (id, attributes) with the identity each belongs to: ground truth for training and scoring."""

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


def new_record_id(rng: random.Random) -> str:
    return f"x{rng.getrandbits(64):016x}"


def split_duplicates(record_set: RecordSet) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
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
    firsts, later = split_duplicates(record_set)
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
            new = new_record_id(rng)
            copy = noise.corrupt(rng, attrs, errors=rng.choice((1, 2, 3, 4)), donor=rng.choice(donors))
            records.append((new, copy))
            identities[new] = identities[record_id]
        elif roll < 0.22:
            new = new_record_id(rng)
            if record_set.kind == PERSON:
                maker = noise.relative if rng.random() < 0.6 else noise.namesake
                made = maker(rng, attrs, donors)
            else:
                made = noise.sister_company(rng, attrs, donors)
            records.append((new, made))
            identities[new] = f"hard-{new}"
        elif roll < 0.26 and record_set.kind == PERSON:
            new = new_record_id(rng)
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
    firsts, _ = split_duplicates(record_set)
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
    """The labelled sets ``er_train`` and the shipped default model learn from (docs/adr/0006-er-scoring-model.md)."""
    sets = []
    for seed, position, total in tenants:
        for record_set in demo_sets(seed=seed, position=position, total=total, slug=f"er-train-{seed}").values():
            if record_set.kind == ORGANIZATION and position in (1, 2):
                record_set = with_contacts(record_set, seed=seed)
            if position % 2:
                sets.append(registry_style(record_set, seed=seed).labelled())
            sets.append(augment_for_training(record_set, seed=seed).labelled())
    return sets
