"""The transactional outbox: how every committed change of an entity or relationship reaches what follows it.

A write (a service in ``apps.core.services``, the bulk writer in ``apps.core.bulk``) adds, in its own
transaction, one ``OutboxEvent`` row per consumer that reads that kind of change, so a consumer can never miss a
committed write and a rolled-back one leaves nothing behind. Once the transaction commits, each consumer that got
rows is woken: its Celery task is queued. The task reads the records' *current* state, applies them and deletes
its rows; a row applied twice or late is harmless, and a row whose task was lost waits for the next wake.

``CONSUMERS`` below is the whole list. Core names its consumers and their tasks but imports none of them: they
sit above it (``../shared/DESIGN.md``, "Layers"). A new side effect of writing entities (an index, a feed) is one
more consumer here, and then reaches single writes, imports and demo loads alike.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction

from apps.core.choices import OutboxConsumer, OutboxKind, OutboxOp
from apps.core.models import OutboxEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumer:
    """One reader of the outbox: which changes it gets, the task that applies them, how it is woken."""

    name: str
    task: str  # the Celery task (by name) that applies this consumer's rows
    kinds: frozenset[str]
    ops: frozenset[str]
    # The graph drain applies rows in order, one drainer at a time: one queued request is enough, and a burst of
    # writes must not queue one task each. ER scoring claims rows with SKIP LOCKED on any number of workers, so
    # every commit queues its own task and a burst spreads over the workers.
    one_waiting: bool

    @property
    def queued_key(self) -> str:
        return f"ig:{self.name}:drain-queued"


CONSUMERS: tuple[Consumer, ...] = (
    Consumer(
        name=OutboxConsumer.GRAPH,
        task="graph.drain_outbox",
        kinds=frozenset(OutboxKind.values),
        ops=frozenset(OutboxOp.values),
        one_waiting=True,
    ),
    Consumer(
        name=OutboxConsumer.ER,
        task="er.score_outbox",
        kinds=frozenset({OutboxKind.ENTITY}),
        ops=frozenset({OutboxOp.UPSERT}),
        one_waiting=False,
    ),
)
BY_NAME = {consumer.name: consumer for consumer in CONSUMERS}


def consumers_of(*, kind: str, op: str, only: Sequence[str] | None = None) -> list[Consumer]:
    """The consumers that read changes of ``kind`` and ``op`` (of ``only``, when given)."""
    if kind not in OutboxKind.values or op not in OutboxOp.values:
        raise ValueError(f"no outbox rows for {kind!r} {op!r}")
    chosen = CONSUMERS if only is None else [BY_NAME[name] for name in only]
    return [c for c in chosen if kind in c.kinds and op in c.ops]


# --------------------------------------------------------------------------- writing rows


def outbox_add(
    *, tenant_id: int, kind: str, ids: Iterable, op: str = OutboxOp.UPSERT, consumers: Sequence[str] | None = None
) -> int:
    """Record changed records in the caller's transaction (the ORM form, for the single-record services); each
    consumer that got rows is woken once it commits. ``consumers`` narrows the readers (a re-projection)."""
    ids = list(ids)
    readers = consumers_of(kind=kind, op=op, only=consumers)
    rows = [
        OutboxEvent(consumer=c.name, tenant_id=int(tenant_id), kind=kind, object_id=i, op=op)
        for c in readers
        for i in ids
    ]
    if not rows:
        return 0
    OutboxEvent.objects.bulk_create(rows, batch_size=5000)
    wake_after_commit(readers)
    return len(rows)


_INSERT = (
    f"INSERT INTO {OutboxEvent._meta.db_table} "
    "(consumer, tenant_id, kind, object_id, op, created_at, attempts, last_error) "
)


def outbox_add_sql(cursor, *, tenant_id: int, kind: str, ids: list, op: str = OutboxOp.UPSERT) -> None:
    """The bulk form: one ``INSERT … SELECT unnest(…)`` per consumer for a whole COPY batch, on the caller's
    cursor; the consumers are woken after commit."""
    if not ids:
        return
    readers = consumers_of(kind=kind, op=op)
    values = [str(i) for i in ids]
    for consumer in readers:
        cursor.execute(
            _INSERT + "SELECT %s, %s, %s, unnest(%s::uuid[]), %s, now(), 0, ''",
            [consumer.name, int(tenant_id), kind, values, op],
        )
    wake_after_commit(readers)


def outbox_add_select(cursor, *, tenant_id: int, kind: str, op: str, select_ids: str, params=()) -> None:
    """The bulk form for ids a query selects (``select_ids`` returns one column, ``id``): a bulk delete."""
    readers = consumers_of(kind=kind, op=op)
    for consumer in readers:
        cursor.execute(
            _INSERT + f"SELECT %s, %s, %s, picked.id, %s, now(), 0, '' FROM ({select_ids}) AS picked",  # noqa: S608
            [consumer.name, int(tenant_id), kind, op, *params],
        )
    wake_after_commit(readers)


# --------------------------------------------------------------------------- waking consumers


def wake_after_commit(consumers: Iterable[Consumer]) -> None:
    for consumer in consumers:
        transaction.on_commit(functools.partial(wake, consumer.name))


def wake(name: str) -> None:
    """Queue the consumer's task (after a commit). A broker hiccup is logged, never raised: the write committed,
    and its rows wait for the next wake (the graph's also for its beat schedule)."""
    consumer = BY_NAME[name]
    try:
        if consumer.one_waiting and not _redis().set(consumer.queued_key, "1", nx=True, ex=60):
            return  # a request is already waiting; the task clears the flag when it starts (``woken``)
        from celery import current_app

        current_app.send_task(consumer.task)
    except Exception as exc:
        logger.warning("could not wake the %s outbox consumer: %s", name, exc)


def woken(name: str) -> None:
    """Called by a consumer's task as it starts: a commit that lands while it runs queues the next one."""
    consumer = BY_NAME[name]
    if not consumer.one_waiting:
        return
    try:
        _redis().delete(consumer.queued_key)
    except Exception as exc:
        logger.warning("could not clear the %s wake flag: %s", name, exc)


def _redis():
    from django.conf import settings

    return _redis_for(settings.REDIS_URL)


@functools.cache
def _redis_for(url: str):
    """One client (and connection pool) per URL: every committed write asks it, so no connection per call."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
