"""The bulk write path: many entities and relationships in one go, with the trail a single write leaves.

``bulk_write`` opens one write into one tenant. Rows go in with PostgreSQL ``COPY`` as the caller hands them over
(updates: ``COPY`` into a scratch table, then one ``UPDATE … FROM``), each batch with its transactional outbox
rows for every consumer (``apps.core.outbox``: the graph projection, online entity resolution), its provenance
rows if the caller gives them, and the write ends with exactly **one** audit event. It is all or nothing: an
error anywhere, or a write that ends without its audit event, leaves no row behind. Used by the importer
(``apps.core.importing``) and the demo loader (``apps.core.demo.loader``)::

    with bulk_write(tenant=tenant, source=source, method=ProvenanceMethod.IMPORT, actor=actor) as write:
        write.entities_create(rows)
        write.provenance_add(provenance)
        write.audit_record("entities.imported", target=source, payload={...})

A module of its own rather than more functions in ``services.py``: it is another way of writing, with rows as
tuples rather than model instances (building 100k instances costs more than writing them), statements on the
psycopg cursor, and one write that spans many statements and batches and ends with one audit event. What must
not differ from the single-record services is shared, not repeated: callers check fields with the services'
validators (``validate_entity_fields``, ``validate_relationship_fields``), and both paths write the same outbox
(``apps.core.outbox``), so every side effect a consumer adds reaches single writes, imports and demo loads alike.
``Model.save()``, signals and simple-history do not run for these rows, and ``auto_now`` is stamped here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection, models, transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.core import outbox
from apps.core.choices import OutboxKind
from apps.core.models import Entity, Provenance, Relationship, Source, Tenant

# Row layouts (field names, in order) the writer accepts; a caller may give fewer columns in another order.
ENTITY_NEW = ("id", "external_id", "kind", "display_name", "attributes", "sensitivity", "labels")
ENTITY_CHANGED = ("id", "kind", "display_name", "attributes", "sensitivity", "labels")
RELATIONSHIP_NEW = ("id", "external_id", "kind", "from_entity", "to_entity", "attributes", "sensitivity")
RELATIONSHIP_CHANGED = ("id", "kind", "attributes", "sensitivity")
PROVENANCE_NEW = ("entity", "relationship", "fields", "record_ref")

OUTBOX_CHUNK = 50_000  # ids per outbox INSERT
PROGRESS_EVERY = 2000  # rows between two ``advance`` calls

Advance = Callable[[int], None]


class BulkWriteError(RuntimeError):
    """A bulk write was used wrongly (no audit event, or two); nothing it wrote is kept."""


# Text-format COPY with the column types set once per statement: psycopg then dumps values without looking at
# each one. JSON goes as JSON text, which PostgreSQL parses into jsonb.
_SQL_TYPES = {
    "UUIDField": "uuid",
    "BigAutoField": "int8",
    "AutoField": "int4",
    "BigIntegerField": "int8",
    "CharField": "text",
    "TextField": "text",
    "JSONField": "text",
    "PositiveSmallIntegerField": "int2",
    "SmallIntegerField": "int2",
    "PositiveIntegerField": "int4",
    "DateTimeField": "timestamptz",
}


def _sql_type(field: models.Field) -> str:
    if field.is_relation:
        return _sql_type(field.target_field)
    if field.get_internal_type() == "ArrayField":
        return _sql_type(field.base_field) + "[]"
    return _SQL_TYPES[field.get_internal_type()]


def _required(model) -> set[str]:
    return {f.name for f in model._meta.concrete_fields if not f.null and not f.auto_created and f.name != "id"}


class BulkWrite:
    """One bulk write into one tenant (made by ``bulk_write``); call ``audit_record`` once, last."""

    def __init__(self, *, cursor, tenant: Tenant, source: Source | None, method: str, actor, now):
        self.cursor = cursor  # the psycopg cursor under Django's: COPY needs it
        self.tenant = tenant
        self.source = source
        self.method = method
        self.actor_id = actor.pk if getattr(actor, "pk", None) else None
        self.actor = actor
        self.now = now
        self.audited = 0

    # ------------------------------------------------------------------ entities and relationships

    def entities_create(self, rows: Iterable[tuple], *, columns: Sequence[str] = ENTITY_NEW, advance=None) -> None:
        """COPY new entities; ``rows`` are tuples in the order of ``columns`` (ids chosen by the caller)."""
        ids = self._create(Entity, columns, ENTITY_NEW, rows, advance)
        self._outbox(OutboxKind.ENTITY, ids)

    def entities_update(self, rows: Sequence[tuple], *, advance=None) -> None:
        """Set the fields of ENTITY_CHANGED[1:] on the entities whose id is first in each row."""
        self._update(Entity, ENTITY_CHANGED, rows, advance)
        self._outbox(OutboxKind.ENTITY, [row[0] for row in rows])

    def relationships_create(
        self, rows: Iterable[tuple], *, columns: Sequence[str] = RELATIONSHIP_NEW, advance=None
    ) -> None:
        """COPY new relationships (both ends in this tenant and already written)."""
        ids = self._create(Relationship, columns, RELATIONSHIP_NEW, rows, advance)
        self._outbox(OutboxKind.RELATIONSHIP, ids)

    def relationships_update(self, rows: Sequence[tuple], *, advance=None) -> None:
        self._update(Relationship, RELATIONSHIP_CHANGED, rows, advance)
        self._outbox(OutboxKind.RELATIONSHIP, [row[0] for row in rows])

    def provenance_add(self, rows: Iterable[tuple]) -> None:
        """One Provenance row per (entity id or None, relationship id or None, attribute names, record ref), from
        this write's source, method and actor."""
        constants = {
            "tenant": self.tenant.pk,
            "source": self.source.pk,
            "method": self.method,
            "actor": self.actor_id,
            "recorded_at": self.now,
        }
        self.rows_copy(Provenance, PROVENANCE_NEW, rows, constants=constants)

    def rows_copy(self, model, columns: Sequence[str], rows: Iterable[tuple], *, constants: dict, advance=None) -> list:
        """COPY rows of ``model`` (tuples in the order of ``columns``) with ``constants`` added to each; returns
        the first column's values. Also for rows no consumer follows (provenance, demo ground truth)."""
        fields = [model._meta.get_field(name) for name in (*columns, *constants)]
        return self._copy(model._meta.db_table, fields, rows, tail=tuple(constants.values()), advance=advance)

    def _copy(self, table: str, fields, rows: Iterable[tuple], *, tail: tuple = (), advance=None) -> list:
        quote = connection.ops.quote_name
        json_at = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
        statement = f"COPY {quote(table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
        firsts, count = [], 0
        with connection.wrap_database_errors, self.cursor.copy(statement) as copy:
            copy.set_types([_sql_type(f) for f in fields])
            for row in rows:
                firsts.append(row[0])
                if json_at:
                    row = list(row)
                    for i in json_at:
                        if not isinstance(row[i], str):
                            row[i] = json.dumps(row[i])
                    row = tuple(row)
                copy.write_row(row + tail)
                count += 1
                if advance and count % PROGRESS_EVERY == 0:
                    advance(PROGRESS_EVERY)
        if advance and count % PROGRESS_EVERY:
            advance(count % PROGRESS_EVERY)
        return firsts

    def _create(self, model, columns, allowed, rows, advance) -> list:
        if columns[0] != "id" or not set(columns) <= set(allowed):
            raise BulkWriteError(f"{model.__name__} rows start with id and hold only {', '.join(allowed)}")
        stamps = {"tenant": self.tenant.pk, "created_at": self.now, "updated_at": self.now}
        # COPY bypasses model defaults: a NOT NULL column the rows leave out must fail here, not half-way.
        missing = _required(model) - {*columns, *stamps}
        if missing:
            raise BulkWriteError(f"{model.__name__} rows leave out {', '.join(sorted(missing))}")
        return self.rows_copy(model, columns, rows, constants=stamps, advance=advance)

    def _update(self, model, names, rows: Sequence[tuple], advance) -> None:
        """COPY into a scratch table, then one UPDATE … FROM (``bulk_update``'s CASE WHEN grows with every row)."""
        if not rows:
            return
        quote = connection.ops.quote_name
        table = model._meta.db_table
        fields = [model._meta.get_field(name) for name in names]
        columns = [quote(f.column) for f in fields]
        scratch = f"bulk_{model._meta.model_name}_changes"
        assignments = ", ".join(f"{column} = v.{column}" for column in columns[1:])
        with connection.wrap_database_errors:
            self.cursor.execute(
                f"CREATE TEMPORARY TABLE {quote(scratch)} ON COMMIT DROP AS "  # noqa: S608 - the model's names
                f"SELECT {', '.join(columns)} FROM {quote(table)} WITH NO DATA"
            )
            self._copy(scratch, fields, rows)
            self.cursor.execute(
                f"UPDATE {quote(table)} AS t SET {assignments}, {quote('updated_at')} = %s "  # noqa: S608
                f"FROM {quote(scratch)} AS v WHERE t.{columns[0]} = v.{columns[0]} AND t.{quote('tenant_id')} = %s",
                [self.now, self.tenant.pk],
            )
            self.cursor.execute(f"DROP TABLE {quote(scratch)}")  # ON COMMIT is too late for a second write
        if advance:
            advance(len(rows))

    def _outbox(self, kind: str, ids: list) -> None:
        for start in range(0, len(ids), OUTBOX_CHUNK):
            with connection.wrap_database_errors:
                outbox.outbox_add_sql(
                    self.cursor, tenant_id=self.tenant.pk, kind=kind, ids=ids[start : start + OUTBOX_CHUNK]
                )

    # ------------------------------------------------------------------ the one audit event

    def audit_record(self, event_type: str, *, target=None, payload: dict) -> None:
        """The write's audit event: exactly one, recorded last (it takes the audit log's lock until commit, so a
        long load must not take it early)."""
        if self.audited:
            raise BulkWriteError("a bulk write records one audit event")
        audit.record(event_type, actor=self.actor, tenant=self.tenant, target=target, payload=payload)
        self.audited += 1


@contextmanager
def bulk_write(*, tenant: Tenant, source: Source | None, method: str, actor=None) -> Iterator[BulkWrite]:
    """One bulk write into ``tenant``, in one transaction (a savepoint inside the caller's); see the module."""
    with transaction.atomic(), connection.cursor() as cursor:
        # Check foreign keys per statement rather than at commit, so the queue of pending checks stays one
        # batch long instead of growing with the whole write.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        write = BulkWrite(
            cursor=cursor.cursor, tenant=tenant, source=source, method=method, actor=actor, now=timezone.now()
        )
        yield write
        if not write.audited:
            raise BulkWriteError("a bulk write ends with one audit event (audit_record); nothing was written")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default for its deferrable foreign keys
