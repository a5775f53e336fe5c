"""The attributes the engine reads, per kind, and how outside column names map onto them."""

from __future__ import annotations

import re

PERSON = "person"
ORGANIZATION = "organization"
KINDS = (PERSON, ORGANIZATION)

# Canonical attribute names, as entities carry them (see apps/core/demo/ and docs/er.md).
ADDRESS_ATTRIBUTES = ("street", "address_line_2", "city", "postal_code", "region", "country")
ATTRIBUTES = {
    PERSON: ("given_name", "family_name", "birth_date", "gender", "national_id", "email", "phone", *ADDRESS_ATTRIBUTES),
    ORGANIZATION: (
        "legal_name",
        "registration_number",
        "tax_id",
        "incorporation_date",
        "email",
        "phone",
        "website",
        *ADDRESS_ATTRIBUTES,
    ),
}
# Mapping targets that are not attributes but are folded into one while records are read.
COMPOSITE_TARGETS = {
    "street_number": "street",  # written in front of the street: "12" + "High Street" -> "12 High Street"
    "full_name": "given_name",  # a person's whole name, split into given_name and family_name
}

# Column headers recognised without a mapping file, after folding (lower case, non-alphanumerics -> "_").
HEADER_ALIASES = {
    "given_name": (
        "given_name",
        "first_name",
        "firstname",
        "forename",
        "forenames",
        "given",
        "fname",
        "given_names",
        "first",
    ),
    "family_name": ("family_name", "surname", "last_name", "lastname", "lname", "family", "family_names", "last"),
    "full_name": ("full_name", "fullname", "person_name"),
    "birth_date": (
        "birth_date",
        "date_of_birth",
        "dob",
        "birthdate",
        "born",
        "dateofbirth",
        "birthday",
        "date_birth",
        "birth_dt",
    ),
    "gender": ("gender", "sex"),
    "national_id": (
        "national_id",
        "soc_sec_id",
        "ssn",
        "social_security_number",
        "national_insurance_number",
        "nino",
        "personal_number",
        "personal_id",
        "id_number",
        "passport_number",
        "passport_no",
        "national_id_number",
        "nin",
        "id_no",
        "identity_number",
    ),
    "email": ("email", "email_address", "e_mail", "mail", "email_addr", "e_mail_address", "contact_email"),
    "phone": (
        "phone",
        "mobile_phone",
        "phone_number",
        "telephone",
        "mobile",
        "tel",
        "landline",
        "phone_no",
        "mobile_number",
        "telephone_number",
        "cell",
        "cell_phone",
        "contact_phone",
        "home_phone",
        "work_phone",
    ),
    "street": (
        "street",
        "address_1",
        "address_line_1",
        "address1",
        "street_address",
        "address",
        "street_name",
        "address_line1",
        "addr1",
        "addr_1",
        "line1",
        "line_1",
        "street_line_1",
    ),
    "street_number": ("street_number", "house_number", "building_number"),
    "address_line_2": (
        "address_2",
        "address_line_2",
        "address2",
        "address_line2",
        "addr2",
        "addr_2",
        "line2",
        "line_2",
    ),
    "city": ("city", "suburb", "town", "locality", "municipality", "city_name", "town_city"),
    "postal_code": ("postal_code", "postcode", "post_code", "zip", "zip_code", "zipcode", "postalcode", "postal"),
    "region": ("region", "state", "province", "county"),
    "country": ("country", "country_code"),
    "legal_name": (
        "legal_name",
        "company_name",
        "organization_name",
        "organisation_name",
        "company",
        "business_name",
        "organization",
        "organisation",
        "org_name",
        "entity_name",
        "registered_name",
        "firm_name",
    ),
    "registration_number": (
        "registration_number",
        "company_number",
        "registration_no",
        "reg_no",
        "crn",
        "company_registration_number",
        "reg_number",
        "registration_id",
        "registry_number",
        "company_id",
        "business_id",
    ),
    "tax_id": (
        "tax_id",
        "vat_number",
        "vat_id",
        "vat",
        "tin",
        "ein",
        "tax_number",
        "vat_no",
        "tax_no",
        "tax_identification_number",
        "taxpayer_id",
    ),
    "incorporation_date": (
        "incorporation_date",
        "date_of_incorporation",
        "incorporated",
        "founded",
        "founded_date",
        "date_incorporated",
        "inc_date",
        "established",
        "date_established",
        "registration_date",
    ),
    "website": ("website", "domain", "url", "web", "homepage", "web_site", "website_url", "site"),
}
# "name" means different things for the two kinds.
KIND_HEADER_ALIASES = {PERSON: {"name": "full_name"}, ORGANIZATION: {"name": "legal_name"}}

RECORD_ID = "record_id"
SOURCE = "source_dataset"  # optional: records with different sources are linked, never deduplicated within one


def fold_header(header: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")


def targets(kind: str) -> frozenset[str]:
    """Names a mapping file may map a column onto for this kind."""
    return frozenset(ATTRIBUTES[kind]) | frozenset(
        target for target, attribute in COMPOSITE_TARGETS.items() if attribute in ATTRIBUTES[kind]
    )


def recognise(headers: list[str], kind: str, mapping: dict[str, str | None] | None = None) -> dict[str, str]:
    """Column -> target for the columns the engine reads; the mapping file wins over the built-in aliases.

    ``mapping`` maps a header onto a target, or onto None to ignore the column. Raises ValueError
    for a mapping target the kind does not have.
    """
    allowed = targets(kind)
    mapping = mapping or {}
    for header, target in mapping.items():
        if target is not None and target not in allowed:
            raise ValueError(
                f"mapping: {header!r} -> {target!r}: not an attribute of {kind} records "
                f"(one of {', '.join(sorted(allowed))}, or null to ignore the column)"
            )
    aliases = {alias: target for target, names in HEADER_ALIASES.items() for alias in names}
    aliases.update(KIND_HEADER_ALIASES[kind])
    result: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        if header in mapping:
            target = mapping[header]
        elif header in (RECORD_ID, SOURCE):
            continue
        else:
            target = aliases.get(fold_header(header))
        if target is None or target not in allowed or target in taken:
            continue
        result[header] = target
        taken.add(target)
    return result


def guess_kind(headers: list[str]) -> str:
    """organization when the columns name a company (legal_name, registration_number, …) and nothing only persons
    have (a given or family name, a birth date, a gender, a national id); a bare ``name`` column counts for a
    company only then."""
    folded = {fold_header(h) for h in headers}
    org = set(HEADER_ALIASES["legal_name"]) | set(HEADER_ALIASES["registration_number"]) | {"name"}
    org |= set(HEADER_ALIASES["tax_id"]) | set(HEADER_ALIASES["incorporation_date"])
    person = {
        alias
        for key in ("given_name", "family_name", "full_name", "birth_date", "gender", "national_id")
        for alias in HEADER_ALIASES[key]
    }
    return ORGANIZATION if folded & org and not folded & person else PERSON


def to_attributes(row: dict, columns: dict[str, str]) -> dict[str, str]:
    """One CSV row as canonical attributes (composite targets folded in)."""
    attrs: dict[str, str] = {}
    extra: dict[str, str] = {}
    for header, target in columns.items():
        value = row.get(header)
        value = "" if value is None else str(value).strip()
        if not value:
            continue
        if target in COMPOSITE_TARGETS:
            extra[target] = value
        else:
            attrs[target] = value
    if "street_number" in extra:
        attrs["street"] = f"{extra['street_number']} {attrs.get('street', '')}".strip()
    if "full_name" in extra:
        words = extra["full_name"].split()
        if "given_name" not in attrs and "family_name" not in attrs and words:
            attrs["family_name"] = words[-1]
            if len(words) > 1:
                attrs["given_name"] = " ".join(words[:-1])
    return attrs
