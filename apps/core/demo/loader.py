"""Loading demo data: ``demo_seed`` writes generated batches with PostgreSQL COPY; ``demo_data_delete`` undoes it.

A service like the others in this app (validates, writes in one transaction per
tenant, records one audit event per tenant), but it writes through the bulk writer
(``apps.core.bulk``) in batches, so a million entities load in minutes without
holding them all in memory. Each batch's entities, provenance, relationships and
ground truth go in four COPY statements, with their outbox rows in the same
transaction: the graph projection and online entity resolution follow a demo load
as they follow any other write.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction

from apps.core import outbox, services
from apps.core.bulk import BulkWrite, bulk_write
from apps.core.choices import OutboxKind, OutboxOp, ProvenanceMethod, SourceKind
from apps.core.demo.generator import BATCH_SIZE, GENERATOR_VERSION, Batch, TenantGenerator, split_evenly
from apps.core.models import Entity, GroundTruthLabel, Provenance, Relationship, Source, Tenant

DEFAULT_SLUGS = ("pilot-north", "pilot-south", "pilot-east", "pilot-west")
DEFAULT_ENTITIES = 10_000
DEFAULT_SEED = 42
TENANT_FEATURE_FLAGS = {"explorer": True, "er": True}
DEMO_SOURCE_NAME = "Synthetic demo data"


@dataclass
class TenantSeedResult:
    """What ``demo_seed`` wrote into one tenant."""

    slug: str
    created_tenant: bool
    entities: Counter = field(default_factory=Counter)
    relationships: Counter = field(default_factory=Counter)
    ground_truth: int = 0
    duplicates: int = 0
    provenance: int = 0
    replaced: int = 0
    seconds: float = 0.0
    replace_seconds: float = 0.0  # part of ``seconds`` spent deleting earlier demo data

    @property
    def entity_total(self) -> int:
        return sum(self.entities.values())

    @property
    def relationship_total(self) -> int:
        return sum(self.relationships.values())

    def payload(self, seed: int) -> dict:
        return {
            "seed": seed,
            "generator_version": GENERATOR_VERSION,
            "entities": dict(sorted(self.entities.items())),
            "relationships": dict(sorted(self.relationships.items())),
            "ground_truth": self.ground_truth,
            "duplicates": self.duplicates,
            "provenance": self.provenance,
            "replaced_entities": self.replaced,
        }


# The generator's row layouts, as the bulk writer's field names.
ENTITY_COLUMNS = ("id", "kind", "display_name", "attributes", "sensitivity", "labels")
RELATIONSHIP_COLUMNS = ("id", "kind", "from_entity", "to_entity", "attributes", "sensitivity")
TRUTH_COLUMNS = ("entity", "identity", "variation")
SEEDED_TABLES = (Entity, Relationship, Provenance, GroundTruthLabel)


def _copy_batch(write: BulkWrite, batch: Batch, *, seed: int, first: int) -> None:
    """Write one batch (entities first: the others point at them); the writer adds its outbox rows."""
    write.entities_create(batch.entities, columns=ENTITY_COLUMNS)
    write.provenance_add(
        (row[0], None, [], f"seed {seed} record {number}") for number, row in enumerate(batch.entities, start=first + 1)
    )
    write.relationships_create(batch.relationships, columns=RELATIONSHIP_COLUMNS)
    write.rows_copy(GroundTruthLabel, TRUTH_COLUMNS, batch.truths, constants={"tenant": write.tenant.pk})


def default_slugs(count: int) -> list[str]:
    """The pilot tenants' slugs: pilot-north, pilot-south, pilot-east, pilot-west, then pilot-5, ..."""
    return [DEFAULT_SLUGS[i] if i < len(DEFAULT_SLUGS) else f"pilot-{i + 1}" for i in range(count)]


def demo_source(*, tenant: Tenant) -> Source | None:
    return Source.objects.filter(tenant=tenant, kind=SourceKind.DEMO, name=DEMO_SOURCE_NAME).first()


def demo_tenant_state(*, slugs: Sequence[str]) -> dict[str, dict]:
    """For each slug: whether the tenant exists, how many entities it has and how many came from demo data."""
    state = {slug: {"exists": False, "entities": 0, "demo_entities": 0} for slug in slugs}
    for tenant in Tenant.objects.filter(slug__in=slugs):
        source = demo_source(tenant=tenant)
        state[tenant.slug] = {
            "exists": True,
            "entities": Entity.objects.filter(tenant=tenant).count(),
            "demo_entities": Provenance.objects.filter(source=source, entity__isnull=False).count() if source else 0,
        }
    return state


def validate_seed_request(*, slugs: Sequence[str], entities) -> None:
    """Raise ValidationError for arguments that cannot be seeded."""
    if not slugs:
        raise ValidationError("Seed at least one tenant (--tenants must be 1 or more).", code="no_tenants")
    if len(set(slugs)) != len(slugs):
        raise ValidationError("Each tenant slug may be given once.", code="duplicate_slug")
    bad = [slug for slug in slugs if not isinstance(slug, str) or not services.SLUG_RE.match(slug)]
    if bad:
        raise ValidationError(
            f"Invalid tenant slug {bad[0]!r}: use 1-63 lower-case letters, digits and hyphens.", code="invalid_slug"
        )
    if isinstance(entities, bool) or not isinstance(entities, int) or entities < 1:
        raise ValidationError(f"--entities must be a positive number, not {entities!r}.", code="invalid_entities")
    if entities < len(slugs):
        raise ValidationError(
            f"--entities {entities} is the total across tenants; give at least one per tenant ({len(slugs)}).",
            code="too_few_entities",
        )


def check_no_demo_data(*, slugs: Sequence[str]) -> None:
    """Raise ValidationError if any of the tenants already holds demo data."""
    seeded = [slug for slug, state in demo_tenant_state(slugs=slugs).items() if state["demo_entities"]]
    if seeded:
        have = "has" if len(seeded) == 1 else "have"
        raise ValidationError(
            f"{', '.join(seeded)} already {have} demo data; use --replace to delete it and seed again.",
            code="has_demo_data",
        )


def demo_seed(
    *,
    slugs: Sequence[str],
    entities: int,
    seed: int,
    replace: bool = False,
    actor=None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> list[TenantSeedResult]:
    """Generate ``entities`` demo entities split evenly over the tenants ``slugs`` (created when missing).

    Each tenant is written in its own transaction, ending with one ``demo.seeded``
    audit event; a tenant that already holds demo data is refused unless
    ``replace`` is set, in which case its demo entities are deleted first.
    ``progress`` is called with the number of entities after each batch.
    """
    validate_seed_request(slugs=slugs, entities=entities)
    if not replace:
        check_no_demo_data(slugs=slugs)
    results = []
    for position, (slug, count) in enumerate(zip(slugs, split_evenly(entities, len(slugs)), strict=True)):
        results.append(
            _seed_tenant(
                slug=slug,
                position=position,
                count=count,
                seed=seed,
                replace=replace,
                actor=actor,
                progress=progress,
                batch_size=batch_size,
            )
        )
    with connection.cursor() as cursor:
        # Fresh statistics, so the planner does not treat the new rows as an empty table.
        cursor.execute("ANALYZE " + ", ".join(model._meta.db_table for model in SEEDED_TABLES))
    return results


def _seed_tenant(*, slug, position, count, seed, replace, actor, progress, batch_size) -> TenantSeedResult:
    started = time.perf_counter()
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().filter(slug=slug).first()
        result = TenantSeedResult(slug=slug, created_tenant=tenant is None)
        if tenant is None:
            # Its audit event is recorded at the end, with demo.seeded: recording it now would take the audit
            # chain's lock for the whole load (minutes for millions of rows) and stall every audited request.
            tenant = services.tenant_create(
                slug=slug,
                name=slug.replace("-", " ").title(),
                actor=actor,
                feature_flags=dict(TENANT_FEATURE_FLAGS),
                audit_now=False,
            )
        source = services.source_get_or_create(
            tenant=tenant, name=DEMO_SOURCE_NAME, kind=SourceKind.DEMO, uri="manage.py seed_demo"
        )
        if replace:
            result.replaced = demo_data_delete(tenant=tenant)
            result.replace_seconds = time.perf_counter() - started
        elif Provenance.objects.filter(source=source).exists():  # seeded meanwhile by another run
            raise ValidationError(f"{slug} already has demo data; use --replace.", code="has_demo_data")
        generator = TenantGenerator(seed=seed, position=position, slug=slug, total=count, batch_size=batch_size)
        written = 0
        with bulk_write(tenant=tenant, source=source, method=ProvenanceMethod.DEMO, actor=actor) as write:
            for batch in generator.batches():
                _copy_batch(write, batch, seed=seed, first=written)
                written += len(batch.entities)
                result.entities.update(row[1] for row in batch.entities)
                result.relationships.update(row[1] for row in batch.relationships)
                result.ground_truth += len(batch.truths)
                result.duplicates += batch.duplicates
                if progress:
                    progress(len(batch.entities))
            result.provenance = written
            result.entities = Counter({str(kind): n for kind, n in result.entities.items()})
            if result.created_tenant:
                services.tenant_created_record(tenant=tenant, actor=actor)
            write.audit_record("demo.seeded", target=source, payload=result.payload(seed))
    result.seconds = time.perf_counter() - started
    return result


def demo_data_delete(*, tenant: Tenant) -> int:
    """Delete the tenant's demo entities with their relationships, provenance and ground truth.

    Demo entities are those with provenance from the tenant's demo source. Rows of
    other apps that point at them follow their ``on_delete`` (cascade, set null,
    or refuse); a non-demo entity merged into a demo one is refused. Returns the
    number of entities deleted. Runs in the caller's transaction.
    """
    source = demo_source(tenant=tenant)
    if source is None:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE demo_doomed_entity (id uuid PRIMARY KEY)")
        cursor.execute("CREATE TEMP TABLE demo_doomed_relationship (id uuid PRIMARY KEY)")
        cursor.execute(
            "INSERT INTO demo_doomed_entity SELECT DISTINCT entity_id FROM core_provenance "
            "WHERE tenant_id = %s AND source_id = %s AND entity_id IS NOT NULL",
            [tenant.pk, source.pk],
        )
        cursor.execute(
            "INSERT INTO demo_doomed_relationship SELECT id FROM core_relationship "
            "WHERE from_entity_id IN (SELECT id FROM demo_doomed_entity) "
            "UNION SELECT id FROM core_relationship WHERE to_entity_id IN (SELECT id FROM demo_doomed_entity)"
        )
        cursor.execute("ANALYZE demo_doomed_entity, demo_doomed_relationship")
        # Deleting a node removes its edges from the projection too.
        outbox.outbox_add_select(
            cursor,
            tenant_id=tenant.pk,
            kind=OutboxKind.ENTITY,
            op=OutboxOp.DELETE,
            select_ids="SELECT id FROM demo_doomed_entity",
        )
        cursor.execute(
            "SELECT count(*) FROM core_entity e WHERE e.merged_into_id IN (SELECT id FROM demo_doomed_entity) "
            "AND NOT EXISTS (SELECT 1 FROM demo_doomed_entity d WHERE d.id = e.id)"
        )
        if cursor.fetchone()[0]:
            raise ValidationError(
                f"Some entities of {tenant.slug} that are not demo data are merged into demo entities; "
                "undo those merges before replacing the demo data.",
                code="merged_into_demo",
            )
        _clear_dependents(
            Entity,
            Entity._base_manager.filter(pk__in=models.expressions.RawSQL("SELECT id FROM demo_doomed_entity", [])),
        )
        _clear_dependents(
            Relationship,
            Relationship._base_manager.filter(
                pk__in=models.expressions.RawSQL("SELECT id FROM demo_doomed_relationship", [])
            ),
        )
        cursor.execute("DELETE FROM core_groundtruthlabel WHERE entity_id IN (SELECT id FROM demo_doomed_entity)")
        cursor.execute("DELETE FROM core_provenance WHERE relationship_id IN (SELECT id FROM demo_doomed_relationship)")
        cursor.execute("DELETE FROM core_provenance WHERE entity_id IN (SELECT id FROM demo_doomed_entity)")
        cursor.execute("DELETE FROM core_relationship WHERE id IN (SELECT id FROM demo_doomed_relationship)")
        cursor.execute("DELETE FROM core_entity WHERE id IN (SELECT id FROM demo_doomed_entity)")
        deleted = cursor.rowcount
        cursor.execute("DROP TABLE demo_doomed_entity, demo_doomed_relationship")
    return deleted


def _clear_dependents(model, doomed) -> None:
    """Apply on_delete for rows of other models that point at the doomed rows (the core tables are done in SQL)."""
    for relation in model._meta.related_objects:
        related = relation.related_model
        if related in SEEDED_TABLES:
            continue
        if relation.many_to_many:
            through = relation.through
            through._base_manager.filter(**{f"{relation.field.m2m_reverse_field_name()}__in": doomed}).delete()
            continue
        name = relation.field.name
        rows = related._base_manager.filter(**{f"{name}__in": doomed})
        if relation.on_delete is models.DO_NOTHING:
            continue
        if relation.on_delete is models.CASCADE:
            rows.delete()
        elif relation.on_delete is models.SET_NULL:
            rows.update(**{name: None})
        elif rows.exists():
            raise ValidationError(
                f"{related._meta.verbose_name_plural} still refer to demo {model._meta.verbose_name_plural}; "
                "remove them before replacing the demo data.",
                code="protected",
            )
