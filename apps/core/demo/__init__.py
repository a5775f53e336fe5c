"""Synthetic demo data: people, organisations and what links them, with known near-duplicates.

``demo_seed`` fills pilot tenants with realistic-looking records for demos, load
tests and entity-resolution (ER) scoring. The package in four parts:

* ``tables``: the reference tables (names, countries, companies, vehicles), read
  once from the JSON files in ``data/``;
* ``values`` and ``variations``: single values (postcodes, IBANs, national ids,
  phone formats) and the ways a near-duplicate differs from its original;
* ``generator``: ``TenantGenerator``, which builds one tenant's rows in memory,
  batch by batch;
* ``loader``: ``demo_seed`` and ``demo_data_delete``, which write those batches
  with PostgreSQL ``COPY`` and take them out again.

What is generated (see ``docs/demo-data.md`` for the full description):

* entities of every kind in fixed shares (``KIND_SHARES``), with the attribute
  keys entity resolution reads (persons: given_name, family_name, birth_date,
  email, phone, street, city, postal_code, country, national_id; organisations:
  legal_name, registration_number, country, city, postal_code, street,
  incorporation_date, industry);
* relationships between them (works_for, lives_at, holds_account,
  transferred_to, ...);
* near-duplicate persons and organisations (about ``DUPLICATE_RATE`` of those
  records) altered the way real sources disagree: typos, nicknames, swapped
  day and month, reformatted phones, moved addresses, missing fields;
* the ground truth in ``GroundTruthLabel``: every person and organisation
  record names the real-world identity it stands for and, for a duplicate, how
  it was altered;
* one ``Provenance`` row per entity, pointing at the tenant's demo ``Source``,
  which is how ``--replace`` later finds the demo entities again.

Determinism: the same seed, entity count, tenant position and slug give the
same rows, ids included. Content comes from ``random.Random`` seeded with the
seed and the tenant's position; ids come from a second generator seeded with
the seed and the tenant's slug, so the same content can be loaded twice into
two tenants without key clashes. Only ``created_at``/``updated_at`` (the time
of loading) differ between runs. The ER model's training data is built from
this generator, so a change to its output changes the shipped model's training
data hash (``tests/core/test_demo.py`` pins a fingerprint of it).
"""

from apps.core.demo.generator import (
    BATCH_SIZE,
    DUPLICATE_RATE,
    GENERATOR_VERSION,
    KIND_SHARES,
    MAX_DUPLICATES_PER_IDENTITY,
    Batch,
    TenantGenerator,
    kind_quotas,
    split_evenly,
)
from apps.core.demo.loader import (
    DEFAULT_ENTITIES,
    DEFAULT_SEED,
    DEFAULT_SLUGS,
    DEMO_SOURCE_NAME,
    TENANT_FEATURE_FLAGS,
    TenantSeedResult,
    check_no_demo_data,
    default_slugs,
    demo_data_delete,
    demo_seed,
    demo_source,
    demo_tenant_state,
    validate_seed_request,
)
from apps.core.demo.tables import COUNTRIES, CULTURES, NICKNAMES, SPELLINGS
from apps.core.demo.values import ascii_fold
from apps.core.demo.variations import respell, transpose, typo

__all__ = [
    "BATCH_SIZE",
    "COUNTRIES",
    "CULTURES",
    "DEFAULT_ENTITIES",
    "DEFAULT_SEED",
    "DEFAULT_SLUGS",
    "DEMO_SOURCE_NAME",
    "DUPLICATE_RATE",
    "GENERATOR_VERSION",
    "KIND_SHARES",
    "MAX_DUPLICATES_PER_IDENTITY",
    "NICKNAMES",
    "SPELLINGS",
    "TENANT_FEATURE_FLAGS",
    "Batch",
    "TenantGenerator",
    "TenantSeedResult",
    "ascii_fold",
    "check_no_demo_data",
    "default_slugs",
    "demo_data_delete",
    "demo_seed",
    "demo_source",
    "demo_tenant_state",
    "kind_quotas",
    "respell",
    "split_evenly",
    "transpose",
    "typo",
    "validate_seed_request",
]
