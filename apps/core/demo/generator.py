"""The demo generator: one tenant's entities, relationships and ground truth, batch by batch, in memory.

``TenantGenerator`` draws every row from two ``random.Random`` streams: content
from the seed and the tenant's position, ids from the seed and the tenant's
slug. It writes nothing; ``loader`` copies its batches into PostgreSQL, and the
ER training sets read them directly.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date

from apps.core.choices import EntityKind
from apps.core.demo.tables import (
    ASSOCIATION_NATURES,
    BIRTH_FIRST,
    BIRTH_LAST,
    BRAND_WORDS,
    BUSINESS_WORDS,
    COLOURS,
    COMPANY_FIRST,
    COUNTRIES,
    CULTURES,
    EVENT_TYPES,
    RECENT_FIRST,
    RECENT_LAST,
    TENANT_COUNTRY_MIXES,
    VEHICLE_MODELS,
    VIN_ALPHABET,
    WORK_ROLES,
    CountryProfile,
)
from apps.core.demo.values import (
    address_line,
    fill_postal_pattern,
    grouped,
    pick_weighted,
    random_digits,
    random_iban,
    random_iso_date,
    random_letters,
    random_national_id,
    random_plate,
    random_registration_number,
    slug_word,
    weighted_table,
)
from apps.core.demo.variations import DROPPING_CHANGES, ORG_CHANGES, PERSON_CHANGES

GENERATOR_VERSION = 1
BATCH_SIZE = 20_000
DUPLICATE_RATE = 0.12  # share of person and organisation records that are near-duplicates of another
MAX_DUPLICATES_PER_IDENTITY = 3

# Share of each kind among a tenant's entities; duplicates count towards their kind.
KIND_SHARES = {
    EntityKind.PERSON: 0.34,
    EntityKind.ORGANIZATION: 0.10,
    EntityKind.ACCOUNT: 0.16,
    EntityKind.ADDRESS: 0.14,
    EntityKind.PHONE: 0.10,
    EntityKind.EMAIL: 0.10,
    EntityKind.VEHICLE: 0.03,
    EntityKind.EVENT: 0.03,
}

_to_json = json.JSONEncoder(ensure_ascii=False).encode  # one encoder: json.dumps(**options) builds one per call


@dataclass(slots=True)
class _Record:
    """One generated entity while its batch is built; only ids survive the batch."""

    id: uuid.UUID
    kind: str
    attrs: dict
    country: str
    identity: str = ""
    base: _Record | None = None
    duplicates: list = field(default_factory=list)
    address: _Record | None = None
    employer: _Record | None = None
    domain: str = ""
    director: _Record | None = None


@dataclass
class Batch:
    """Rows of one batch, ready for COPY."""

    # (id, kind, display_name, attributes as JSON, sensitivity, labels)
    entities: list[tuple] = field(default_factory=list)
    # (id, kind, from id, to id, attributes as JSON, sensitivity)
    relationships: list[tuple] = field(default_factory=list)
    # (entity id, identity, variation)
    truths: list[tuple] = field(default_factory=list)
    duplicates: int = 0


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts, the larger ones first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def kind_quotas(total: int) -> dict[str, int]:
    """Entities of each kind for a tenant of ``total`` entities (largest remainder, so they add up)."""
    exact = {kind: total * share for kind, share in KIND_SHARES.items()}
    quotas = {kind: int(value) for kind, value in exact.items()}
    by_remainder = sorted(exact, key=lambda kind: (-(exact[kind] - quotas[kind]), list(KIND_SHARES).index(kind)))
    for kind in by_remainder[: total - sum(quotas.values())]:
        quotas[kind] += 1
    return {str(kind): count for kind, count in quotas.items()}


class TenantGenerator:
    """Generates one tenant's demo rows, batch by batch, from its own random streams."""

    def __init__(self, *, seed: int, position: int, slug: str, total: int, batch_size: int = BATCH_SIZE):
        self.rng = random.Random(f"intelgraph-demo/v{GENERATOR_VERSION}/{seed}/{position}")
        self._id_rng = random.Random(f"intelgraph-demo-ids/{seed}/{slug}")
        self.total = total
        self.batch_size = batch_size
        self.quotas = kind_quotas(total)
        self.country_table = weighted_table(TENANT_COUNTRY_MIXES[position % len(TENANT_COUNTRY_MIXES)].items())
        self.culture_tables = {code: weighted_table(profile.cultures) for code, profile in COUNTRIES.items()}
        self.business_words = weighted_table((pair, 1.0) for pair in BUSINESS_WORDS)
        self.org_pool: list[_Record] = []  # earlier organisations, so links cross batches
        self.account_pool: list[uuid.UUID] = []
        self.person_identities = itertools.count(1)
        self.org_identities = itertools.count(1)

    # ---------------------------------------------------------------- plumbing

    def _new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._id_rng.getrandbits(128), version=4)

    def batches(self):
        count = max(1, -(-self.total // self.batch_size))
        for b in range(count):
            yield self._batch({kind: q * (b + 1) // count - q * b // count for kind, q in self.quotas.items()})

    def _emit(self, batch: Batch, record: _Record, display_name: str, labels: list[str], floor: int = 0) -> None:
        batch.entities.append(
            (
                record.id,
                record.kind,
                display_name[:300],
                _to_json(record.attrs),
                self._sensitivity(floor),
                sorted(labels),
            )
        )

    def _link(
        self,
        batch: Batch,
        kind: str,
        source: _Record | uuid.UUID,
        target: _Record | uuid.UUID,
        attributes: dict | None = None,
        sensitivity: int | None = None,
    ) -> None:
        from_id = source.id if isinstance(source, _Record) else source
        to_id = target.id if isinstance(target, _Record) else target
        if from_id == to_id:
            return
        if sensitivity is None:
            sensitivity = 2 if self.rng.random() < 0.08 else 1
        batch.relationships.append(
            (self._new_id(), kind, from_id, to_id, _to_json(attributes) if attributes else "{}", sensitivity)
        )

    def _sensitivity(self, floor: int = 0) -> int:
        roll = self.rng.random()
        level = 0 if roll < 0.07 else 1 if roll < 0.74 else 2 if roll < 0.91 else 3 if roll < 0.985 else 4
        return max(level, floor)

    def _labels(self, choices: tuple[tuple[str, float, int], ...]) -> tuple[list[str], int]:
        labels, floor = [], 0
        for label, chance, label_floor in choices:
            if self.rng.random() < chance:
                labels.append(label)
                floor = max(floor, label_floor)
        return labels, floor

    # ---------------------------------------------------------------- batch

    def _batch(self, counts: dict[str, int]) -> Batch:
        batch = Batch()
        addresses = [self._address(batch) for _ in range(counts[EntityKind.ADDRESS])]
        orgs = self._organizations(batch, counts[EntityKind.ORGANIZATION], addresses)
        persons = self._persons(batch, counts[EntityKind.PERSON], addresses, orgs)
        self._directors(batch, orgs, persons)
        self._phones(batch, counts[EntityKind.PHONE], persons, orgs)
        self._emails(batch, counts[EntityKind.EMAIL], persons, orgs)
        self._accounts(batch, counts[EntityKind.ACCOUNT], persons, orgs)
        self._vehicles(batch, counts[EntityKind.VEHICLE], persons, orgs)
        self._events(batch, counts[EntityKind.EVENT], persons, orgs, addresses)
        self._associations(batch, persons)
        bases = [org for org in orgs if org.base is None]
        for org in bases[: max(1, len(bases) // 4)]:
            # A slim copy, so the pool does not keep whole earlier batches alive through references.
            self._keep(self.org_pool, _Record(org.id, org.kind, {}, org.country, domain=org.domain), 5000)
        return batch

    def _keep(self, pool: list, item, limit: int) -> None:
        if len(pool) < limit:
            pool.append(item)
        else:
            pool[self.rng.randrange(limit)] = item

    # ---------------------------------------------------------------- addresses

    def _country(self) -> CountryProfile:
        return COUNTRIES[pick_weighted(self.rng, self.country_table)]

    def address_attrs(self, country: CountryProfile) -> dict:
        rng = self.rng
        city_index = rng.randrange(len(country.cities))
        city, pattern = country.cities[city_index]
        number = (
            rng.randint(100, 9999) if country.code == "US" else rng.choice((rng.randint(1, 40), rng.randint(1, 250)))
        )
        street = country.street_format.format(n=number, s=rng.choice(country.streets))
        if country.unit_format and rng.random() < 0.15:
            unit = country.unit_format.format(u=rng.randint(1, 30), l=rng.choice("ABCD"))
            street = unit + street if country.unit_format.endswith(", ") else street + unit
        attrs = {
            "street": street,
            "city": city,
            "postal_code": fill_postal_pattern(rng, pattern),
            "country": country.code,
        }
        if country.region_codes:
            attrs["region"] = country.region_codes[city_index]
        return attrs

    def _address(self, batch: Batch) -> _Record:
        country = self._country()
        attrs = self.address_attrs(country)
        attrs["address_type"] = "commercial" if self.rng.random() < 0.2 else "residential"
        record = _Record(self._new_id(), EntityKind.ADDRESS, attrs, country.code)
        self._emit(batch, record, address_line(attrs), [])
        return record

    # ---------------------------------------------------------------- organisations

    def _organizations(self, batch: Batch, count: int, addresses: list[_Record]) -> list[_Record]:
        records: list[_Record] = []
        bases: list[_Record] = []
        hubs = addresses[: max(1, len(addresses) // 100)]  # formation agents: many companies, one address
        for _ in range(count):
            base = self._duplicate_target(bases)
            if base is not None:
                record = self._org_duplicate(batch, base, addresses)
            else:
                pool = hubs if hubs and self.rng.random() < 0.15 else addresses
                record = self._org_base(batch, self.rng.choice(pool) if pool else None)
                bases.append(record)
            records.append(record)
        for record in bases:
            if self.rng.random() < 0.08:
                parent = self._other_org(record, bases)
                if parent is not None:
                    self._link(batch, "subsidiary_of", record, parent, {"share": self.rng.choice((51, 75, 100, 100))})
        return records

    def _duplicate_target(self, bases: list[_Record]) -> _Record | None:
        if not bases or self.rng.random() >= DUPLICATE_RATE:
            return None
        base = self.rng.choice(bases)
        return base if len(base.duplicates) < MAX_DUPLICATES_PER_IDENTITY else None

    def _org_base(self, batch: Batch, address: _Record | None) -> _Record:
        rng = self.rng
        country = COUNTRIES[address.country] if address else self._country()
        place = address.attrs if address else self.address_attrs(country)
        if country.local_business_words and rng.random() < 0.4:
            word, industry = rng.choice(country.local_business_words)
        else:
            word, industry = pick_weighted(rng, self.business_words)
        culture = CULTURES[pick_weighted(rng, self.culture_tables[country.code])]
        roll = rng.random()
        if roll < 0.35:
            stem = f"{rng.choice(culture.family)} {word}"
        elif roll < 0.65:
            stem = f"{rng.choice(BRAND_WORDS)} {word}"
        elif roll < 0.75:
            stem = f"{place['city']} {word}"
        elif roll < 0.87:
            stem = f"{rng.choice(culture.family)} & {rng.choice(culture.family)}"
            industry = rng.choice(("consulting", "financial services", "legal services"))
        else:
            stem = f"{random_letters(rng, 3)} {word}"
        legal_name = f"{stem} {rng.choice(country.org_suffixes)}"
        domain = f"{slug_word(stem)[:24] or 'company'}.{country.web_suffix}"
        attrs = {
            "legal_name": legal_name,
            "registration_number": random_registration_number(rng, country.code),
            "country": country.code,
            "city": place["city"],
            "postal_code": place["postal_code"],
            "street": place["street"],
            "incorporation_date": random_iso_date(rng, COMPANY_FIRST, RECENT_LAST),
            "industry": industry,
            "website": f"www.{domain}",
        }
        record = _Record(self._new_id(), EntityKind.ORGANIZATION, attrs, country.code, address=address, domain=domain)
        record.identity = f"org-{next(self.org_identities):07d}"
        labels, floor = self._labels((("sanctions", 0.008, 2), ("watchlist", 0.01, 2)))
        self._emit(batch, record, legal_name, labels, floor)
        batch.truths.append((record.id, record.identity, ""))
        if address is not None:
            self._link(batch, "registered_at", record, address, {"since": attrs["incorporation_date"][:4]})
        return record

    def _org_duplicate(self, batch: Batch, base: _Record, addresses: list[_Record]) -> _Record:
        rng = self.rng
        attrs = dict(base.attrs)
        country = COUNTRIES[base.country]
        changes, address = self._apply_changes(ORG_CHANGES, attrs, country, addresses, base.address)
        if not changes:
            attrs["legal_name"] = attrs["legal_name"].upper()
            changes.append("legal_name upper case")
        record = _Record(
            self._new_id(), EntityKind.ORGANIZATION, attrs, base.country, base=base, address=address, domain=base.domain
        )
        record.identity = base.identity
        base.duplicates.append(record)
        labels, floor = self._labels((("sanctions", 0.004, 2), ("watchlist", 0.01, 2)))
        self._emit(batch, record, attrs["legal_name"], labels, floor)
        batch.truths.append((record.id, record.identity, "; ".join(changes)[:100]))
        batch.duplicates += 1
        if address is not None and "street" in attrs and rng.random() < 0.8:
            self._link(batch, "registered_at", record, address)
        return record

    def _apply_changes(self, table, attrs, country, addresses, address) -> tuple[list[str], _Record | None]:
        """Apply one to three different kinds of change, drawn by weight; returns the notes and the address."""
        rng = self.rng
        wanted = 1 if rng.random() < 0.55 else 2 if rng.random() < 0.78 else 3
        functions = [fn for fn, _ in table]
        weights = [w for _, w in table]
        changes: list[str] = []
        dropping = None  # removing fields goes last, so no note describes a field that is gone
        while functions and len(changes) + (dropping is not None) < wanted:
            i = rng.choices(range(len(functions)), weights)[0]
            change = functions.pop(i)
            weights.pop(i)
            if change in DROPPING_CHANGES:
                dropping = change
                continue
            done = change(self, attrs, country, addresses)
            if isinstance(done, tuple):
                done, address = done
            if done:
                changes.append(done)
        if dropping is not None and (done := dropping(self, attrs, country, addresses)):
            changes.append(done)
        return changes, address

    def _other_org(self, record: _Record, orgs: list[_Record]) -> _Record | None:
        candidates = self.org_pool if self.org_pool and (self.rng.random() < 0.3 or len(orgs) < 2) else orgs
        if not candidates:
            return None
        other = self.rng.choice(candidates)
        return None if other is record else other

    def _employer(self, orgs: list[_Record], country: str) -> _Record | None:
        rng = self.rng
        if self.org_pool and (not orgs or rng.random() < 0.2):
            return rng.choice(self.org_pool)
        if not orgs:
            return None
        # Skewed towards the batch's first organisations (a few large employers), and towards
        # one in the person's own country.
        candidates = [orgs[int(len(orgs) * rng.random() ** 2)] for _ in range(3)]
        return next((org for org in candidates if org.country == country), candidates[0])

    # ---------------------------------------------------------------- persons

    def _persons(self, batch: Batch, count: int, addresses: list[_Record], orgs: list[_Record]) -> list[_Record]:
        records: list[_Record] = []
        bases: list[_Record] = []
        residents: dict[uuid.UUID, _Record] = {}
        for _ in range(count):
            base = self._duplicate_target(bases)
            if base is not None:
                records.append(self._person_duplicate(batch, base, addresses))
                continue
            address = self.rng.choice(addresses) if addresses else None
            employer = self._employer(orgs, address.country if address else "") if self.rng.random() < 0.6 else None
            record = self._person_base(batch, address, employer)
            if address is not None:
                housemate = residents.get(address.id)
                if housemate is not None and self.rng.random() < 0.5:
                    self._link(batch, "associated_with", record, housemate, {"nature": "family"})
                residents[address.id] = record
            bases.append(record)
            records.append(record)
        return records

    def _person_base(self, batch: Batch, address: _Record | None, employer: _Record | None) -> _Record:
        rng = self.rng
        country = COUNTRIES[address.country] if address else self._country()
        culture = CULTURES[pick_weighted(rng, self.culture_tables[country.code])]
        female = rng.random() < 0.5
        given = rng.choice(culture.female if female else culture.male)
        family = rng.choice(culture.family)
        if female:
            for suffix, feminine in culture.feminine_surnames:
                if family.endswith(suffix):
                    family = family[: -len(suffix)] + feminine
                    break
        if culture.double_surname and rng.random() < culture.double_surname:
            family = f"{family} {rng.choice(culture.family)}"
        elif rng.random() < 0.015:
            family = f"{family}-{rng.choice(culture.family)}"
        birth = random_iso_date(rng, BIRTH_FIRST, BIRTH_LAST)
        attrs = {
            "given_name": given,
            "family_name": family,
            "birth_date": birth,
            "gender": "female" if female else "male",
        }
        domain = ""
        if rng.random() < 0.8:
            if employer is not None and rng.random() < 0.3:
                domain = employer.domain
            else:
                domain = rng.choice(country.email_domains)
            attrs["email"] = f"{self._email_local(given, family, birth)}@{domain}"
        if rng.random() < 0.85:
            attrs["phone"] = self._phone_number(country, mobile=True)
        place = address.attrs if address else self.address_attrs(country)
        attrs.update({key: place[key] for key in ("street", "city", "postal_code", "country")})
        if rng.random() < 0.35:
            attrs["national_id"] = random_national_id(rng, country.code, birth, female, given, family)
        record = _Record(
            self._new_id(), EntityKind.PERSON, attrs, country.code, address=address, employer=employer, domain=domain
        )
        record.identity = f"person-{next(self.person_identities):07d}"
        labels, floor = self._labels(
            (("pep", 0.012, 1), ("sanctions", 0.004, 2), ("watchlist", 0.01, 2), ("vip", 0.008, 2))
        )
        self._emit(batch, record, f"{given} {family}", labels, floor)
        batch.truths.append((record.id, record.identity, ""))
        if address is not None:
            self._link(batch, "lives_at", record, address, {"since": str(rng.randint(int(birth[:4]) + 18, 2025))})
        if employer is not None:
            self._link(
                batch,
                "works_for",
                record,
                employer,
                {"role": rng.choice(WORK_ROLES), "since": str(rng.randint(max(int(birth[:4]) + 18, 1990), 2025))},
            )
        return record

    def _email_local(self, given: str, family: str, birth: str) -> str:
        g = slug_word(given.split()[0]) or "x"
        f = slug_word(family.split()[0]) or "x"
        return self.rng.choice(
            (
                f"{g}.{f}",
                f"{g}{f}",
                f"{g[0]}{f}",
                f"{g}.{f}{self.rng.randint(1, 99)}",
                f"{f}.{g}",
                f"{g}_{f}",
                f"{g}{birth[2:4]}",
                f"{g[0]}.{f}",
            )
        )

    def _phone_number(self, country: CountryProfile, *, mobile: bool) -> str:
        prefix = self.rng.choice(country.mobile if mobile else country.landline)
        return f"+{country.calling_code}{prefix}{random_digits(self.rng, country.nsn_length - len(prefix))}"

    def _person_duplicate(self, batch: Batch, base: _Record, addresses: list[_Record]) -> _Record:
        rng = self.rng
        attrs = dict(base.attrs)
        country = COUNTRIES[base.country]
        changes, address = self._apply_changes(PERSON_CHANGES, attrs, country, addresses, base.address)
        if not changes:
            attrs["family_name"] = attrs["family_name"].upper()
            changes.append("family_name upper case")
        record = _Record(
            self._new_id(), EntityKind.PERSON, attrs, base.country, base=base, address=address, employer=base.employer
        )
        record.identity = base.identity
        base.duplicates.append(record)
        labels, floor = self._labels((("pep", 0.006, 1), ("watchlist", 0.005, 2)))
        self._emit(batch, record, f"{attrs['given_name']} {attrs['family_name']}", labels, floor)
        batch.truths.append((record.id, record.identity, "; ".join(changes)[:100]))
        batch.duplicates += 1
        if address is not None and "street" in attrs and rng.random() < 0.8:
            self._link(batch, "lives_at", record, address)
        if base.employer is not None and rng.random() < 0.3:
            self._link(batch, "works_for", record, base.employer, {"role": rng.choice(WORK_ROLES)})
        return record

    # ---------------------------------------------------------------- links to people and companies

    def _directors(self, batch: Batch, orgs: list[_Record], persons: list[_Record]) -> None:
        if not persons:
            return
        rng = self.rng
        for org in orgs:
            if org.base is not None and org.base.director is not None and rng.random() < 0.5:
                director = org.base.director
            else:
                director = rng.choice(persons)
            org.director = director
            incorporated = date.fromisoformat(org.attrs.get("incorporation_date", "2000-01-01")).toordinal()
            appointed = {"appointed": random_iso_date(rng, incorporated, RECENT_LAST)}
            self._link(batch, "director_of", director, org, appointed)
            if rng.random() < 0.3:
                self._link(batch, "director_of", rng.choice(persons), org)

    def _phones(self, batch: Batch, count: int, persons: list[_Record], orgs: list[_Record]) -> None:
        rng = self.rng
        owners = [p for p in persons if p.base is None and "phone" in p.attrs]
        owners = rng.sample(owners, min(count, len(owners)))
        for owner in owners:
            number = owner.attrs["phone"]
            phone = _Record(
                self._new_id(),
                EntityKind.PHONE,
                {"number": number, "country": owner.country, "line_type": "mobile"},
                owner.country,
            )
            self._emit(batch, phone, number, [])
            self._link(batch, "has_phone", owner, phone)
            for duplicate in owner.duplicates:
                if "phone" in duplicate.attrs and rng.random() < 0.4:
                    self._link(batch, "has_phone", duplicate, phone)
        for _ in range(count - len(owners)):
            org = rng.choice(orgs) if orgs else None
            country = COUNTRIES[org.country] if org else self._country()
            number = self._phone_number(country, mobile=False)
            phone = _Record(
                self._new_id(),
                EntityKind.PHONE,
                {"number": number, "country": country.code, "line_type": "landline"},
                country.code,
            )
            self._emit(batch, phone, number, [])
            if org is not None:
                self._link(batch, "has_phone", org, phone)

    def _emails(self, batch: Batch, count: int, persons: list[_Record], orgs: list[_Record]) -> None:
        rng = self.rng
        owners = [p for p in persons if p.base is None and "email" in p.attrs]
        owners = rng.sample(owners, min(count, len(owners)))
        for owner in owners:
            address = owner.attrs["email"]
            domain = address.partition("@")[2]
            provider = "corporate" if owner.employer is not None and domain == owner.employer.domain else "freemail"
            email = _Record(
                self._new_id(),
                EntityKind.EMAIL,
                {"address": address, "domain": domain, "provider": provider},
                owner.country,
            )
            self._emit(batch, email, address, [])
            self._link(batch, "has_email", owner, email)
            for duplicate in owner.duplicates:
                if "email" in duplicate.attrs and rng.random() < 0.4:
                    self._link(batch, "has_email", duplicate, email)
        for _ in range(count - len(owners)):
            org = rng.choice(orgs) if orgs else None
            domain = org.domain if org else f"{slug_word(rng.choice(BRAND_WORDS))}.com"
            local = rng.choice(("info", "contact", "sales", "accounts", "office", "admin", "billing", "hr"))
            address = f"{local}{rng.randint(1, 99) if rng.random() < 0.3 else ''}@{domain}"
            email = _Record(
                self._new_id(),
                EntityKind.EMAIL,
                {"address": address, "domain": domain, "provider": "corporate"},
                org.country if org else "",
            )
            self._emit(batch, email, address, [])
            if org is not None:
                self._link(batch, "has_email", org, email)

    def _holder(self, persons: list[_Record], orgs: list[_Record]) -> _Record | None:
        if orgs and (not persons or self.rng.random() < 0.25):
            return self.rng.choice(orgs)
        return self.rng.choice(persons) if persons else None

    def _accounts(self, batch: Batch, count: int, persons: list[_Record], orgs: list[_Record]) -> None:
        rng = self.rng
        accounts: list[tuple[uuid.UUID, str]] = []
        for _ in range(count):
            holder = self._holder(persons, orgs)
            country = COUNTRIES[holder.country] if holder else self._country()
            bank = rng.choice(country.banks)
            kind = (
                "business"
                if holder is not None and holder.kind == EntityKind.ORGANIZATION
                else rng.choice(("current", "current", "savings"))
            )
            if country.bban_length:
                number = random_iban(rng, country, bank)
                attrs = {"iban": number, "bank": bank.name}
                display = f"{bank.name} {grouped(number)}"
            else:
                number = random_digits(rng, rng.choice((10, 11, 12)))
                attrs = {"account_number": number, "routing_number": bank.code, "bank": bank.name}
                display = f"{bank.name} ••••{number[-4:]}"
            attrs.update(
                {
                    "currency": country.currency,
                    "opened": random_iso_date(rng, date(1995, 1, 1).toordinal(), RECENT_LAST),
                    "country": country.code,
                    "account_type": kind,
                }
            )
            account = _Record(self._new_id(), EntityKind.ACCOUNT, attrs, country.code)
            labels, floor = self._labels((("watchlist", 0.005, 2),))
            self._emit(batch, account, display, labels, floor)
            accounts.append((account.id, country.currency))
            if holder is not None:
                self._link(batch, "holds_account", holder, account, {"role": "owner"})
                if holder.kind == EntityKind.PERSON and len(persons) > 1 and rng.random() < 0.12:
                    self._link(batch, "holds_account", rng.choice(persons), account, {"role": "joint holder"})
                elif holder.kind == EntityKind.ORGANIZATION and persons and rng.random() < 0.3:
                    self._link(batch, "holds_account", rng.choice(persons), account, {"role": "signatory"})
        for account_id, currency in accounts:
            for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 2, 3, 4))):
                if self.account_pool and (len(accounts) < 2 or rng.random() < 0.25):
                    target = rng.choice(self.account_pool)
                else:
                    target = rng.choice(accounts)[0]
                amount = round(rng.lognormvariate(7, 1.6), 2)
                attrs = {
                    "amount": amount,
                    "currency": currency,
                    "date": random_iso_date(rng, RECENT_FIRST, RECENT_LAST),
                    "reference": f"{rng.choice(('INV', 'TRF', 'PAY', 'REF', 'LOAN'))}-{random_digits(rng, 6)}",
                }
                roll = rng.random()
                self._link(
                    batch, "transferred_to", account_id, target, attrs, 3 if roll < 0.03 else 2 if roll < 0.35 else 1
                )
        for account_id, _ in accounts[: max(1, len(accounts) // 4)]:
            self._keep(self.account_pool, account_id, 10_000)

    def _vehicles(self, batch: Batch, count: int, persons: list[_Record], orgs: list[_Record]) -> None:
        rng = self.rng
        for _ in range(count):
            owner = self._holder(persons, orgs) if rng.random() < 0.15 or not persons else rng.choice(persons)
            country = COUNTRIES[owner.country] if owner else self._country()
            make, wmi, models_ = rng.choice(VEHICLE_MODELS)
            model, year = rng.choice(models_), rng.randint(2000, 2025)
            plate = random_plate(rng, country.code)
            attrs = {
                "make": make,
                "model": model,
                "year": year,
                "colour": rng.choice(COLOURS),
                "plate": plate,
                "vin": wmi + random_letters(rng, 14, VIN_ALPHABET),
                "country": country.code,
            }
            vehicle = _Record(self._new_id(), EntityKind.VEHICLE, attrs, country.code)
            self._emit(batch, vehicle, f"{year} {make} {model} ({plate})", [])
            if owner is not None:
                self._link(batch, "owns", owner, vehicle, {"since": str(rng.randint(year, 2025))})

    def _events(
        self, batch: Batch, count: int, persons: list[_Record], orgs: list[_Record], addresses: list[_Record]
    ) -> None:
        rng = self.rng
        for _ in range(count):
            kind = rng.choice(EVENT_TYPES)
            place = rng.choice(addresses) if addresses and rng.random() < 0.5 else None
            where = place.attrs if place else self.address_attrs(self._country())
            when = random_iso_date(rng, RECENT_FIRST, RECENT_LAST)
            attrs = {
                "event_type": kind,
                "date": when,
                "city": where["city"],
                "country": where["country"],
                "description": f"{kind.capitalize()} recorded in {where['city']}",
            }
            event = _Record(self._new_id(), EntityKind.EVENT, attrs, where["country"])
            labels, floor = self._labels((("watchlist", 0.02, 2),))
            self._emit(batch, event, f"{kind.capitalize()}, {where['city']}, {when}", labels, floor)
            if place is not None:
                self._link(batch, "located_at", event, place)
            for participant in {p.id: p for p in rng.sample(persons, min(len(persons), rng.randint(1, 4)))}.values():
                self._link(batch, "participated_in", participant, event)
            if orgs and rng.random() < 0.4:
                self._link(batch, "participated_in", rng.choice(orgs), event)

    def _associations(self, batch: Batch, persons: list[_Record]) -> None:
        if len(persons) < 2:
            return
        rng = self.rng
        for person in persons:
            if rng.random() < 0.25:
                nature = rng.choice(ASSOCIATION_NATURES)
                self._link(
                    batch,
                    "associated_with",
                    person,
                    rng.choice(persons),
                    {"nature": nature},
                    2 if rng.random() < 0.2 else 1,
                )
