"""Metering: count on the request path in Redis (``intelgraph.metering.meter``), fold into PostgreSQL in batches,
lose nothing.

``meter()`` adds a quantity to one field of the Redis hash ``ig:finops:live`` (one round trip, no database
write). ``usage_fold()`` (Celery beat, every 30 s) renames that hash to a batch key ``ig:finops:fold:<uuid>`` (atomic: counts arriving
after the rename start a new live hash), then folds every batch key it finds into ``UsageDaily`` in one
transaction per batch that also records the batch in ``MeterFold``, and deletes the batch key only after the
commit. So:

- a fold that dies after the rename and before its commit leaves the batch key in Redis: the next fold adds it;
- a fold that dies after its commit and before the delete leaves the key too, but ``MeterFold`` already holds it:
  the next fold deletes it without adding it again;
- two folds at once both see a batch key; the unique ``MeterFold.key`` lets one add it.

When Redis cannot be reached, ``meter()`` writes the quantity straight into ``UsageDaily`` (``fallback_write``,
registered at start-up; slower, never lost) and logs it; enforcement falls back to PostgreSQL the same way
(``services``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction

from intelgraph.metering import FOLD_PREFIX, LIVE_KEY, _redis, parse_field

logger = logging.getLogger(__name__)


def fallback_write(tenant_id, day, feature, unit, model, quantity: Decimal, estimated: bool) -> None:
    """Where ``intelgraph.metering.meter`` puts a count when Redis is down: straight into ``UsageDaily``, in a
    savepoint (a failed insert must not abort the caller's transaction)."""
    with transaction.atomic():
        _fold_rows({(tenant_id, day, feature, unit, model): [quantity, quantity if estimated else Decimal(0)]})


@dataclass
class FoldResult:
    batches: int = 0
    fields: int = 0
    skipped: int = 0  # batches already folded (a previous fold died before deleting them)
    seconds: float = 0.0


FOLD_LOCK = 0x1F1B0001  # a fold holds it exclusively from RENAME to DEL; readers of the live figures share it


@contextlib.contextmanager
def _fold_lock(*, shared: bool):
    """Session advisory lock: a reader (``unfolded_many`` + the aggregates) never sees a batch both in Redis and in
    PostgreSQL, nor misses counts moving from the live hash to a batch."""
    function = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [FOLD_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function.replace('lock', 'unlock')}(%s)", [FOLD_LOCK])


def readers_lock():
    return _fold_lock(shared=True)


def usage_fold(*, limit: int = 1000) -> FoldResult:
    """Fold the Redis counters into ``UsageDaily``; see the module's docstring for why nothing is lost or doubled."""
    with _fold_lock(shared=False):
        return _usage_fold(limit=limit)


def _usage_fold(*, limit: int) -> FoldResult:
    started = time.perf_counter()
    client = _redis()
    result = FoldResult()
    batch = f"{FOLD_PREFIX}{uuid.uuid4().hex}"
    try:
        client.rename(LIVE_KEY, batch)
    except Exception as exc:  # no live counters yet ("no such key"), or Redis down: fold what is there
        if "no such key" not in str(exc).lower():
            raise
    for key in sorted(
        k.decode() if isinstance(k, bytes) else k for k in client.scan_iter(f"{FOLD_PREFIX}*", count=500)
    ):
        if result.batches + result.skipped >= limit:
            break
        raw = client.hgetall(key)
        rows: dict[tuple, list[Decimal]] = {}
        for name, value in raw.items():
            name = name.decode() if isinstance(name, bytes) else name
            tenant_id, day, feature, unit, model, estimated = parse_field(name)
            slot = rows.setdefault((tenant_id, day, feature, unit, model), [Decimal(0), Decimal(0)])
            slot[1 if estimated else 0] += Decimal(value.decode() if isinstance(value, bytes) else value)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO finops_meterfold (key, fields, folded_at) VALUES (%s, %s, now()) "
                    "ON CONFLICT (key) DO NOTHING RETURNING id",
                    [key, len(rows)],
                )
                first_time = cursor.fetchone() is not None
            if first_time:
                _fold_rows(rows)
        client.unlink(key)  # only after the commit: a fold that dies before this is folded again, once
        if first_time:
            result.batches += 1
            result.fields += len(rows)
        else:
            result.skipped += 1
    result.seconds = time.perf_counter() - started
    return result


def _fold_rows(rows: dict[tuple, list[Decimal]]) -> None:
    """Add quantities to ``UsageDaily`` (insert or add), in the caller's transaction, in one statement."""
    if not rows:
        return
    from apps.core.models import Tenant

    known = set(Tenant.objects.filter(pk__in={key[0] for key in rows}).values_list("pk", flat=True))
    values, params = [], []
    for (tenant_id, day, feature, unit, model), (quantity, estimated) in sorted(rows.items()):
        if tenant_id not in known:  # the tenant was deleted since: its usage goes with it
            continue
        values.append("(%s, %s, %s, %s, %s, %s, %s, now())")
        params += [tenant_id, day, feature, unit, model, quantity, estimated]
    if not values:
        return
    placeholders = ", ".join(values)  # only "%s" placeholders: every value is a parameter
    query = (
        "INSERT INTO finops_usagedaily (tenant_id, day, feature, unit, model, quantity, estimated, updated_at) "  # noqa: S608
        f"VALUES {placeholders} ON CONFLICT (tenant_id, day, feature, unit, model) DO UPDATE SET "
        "quantity = finops_usagedaily.quantity + EXCLUDED.quantity, "
        "estimated = finops_usagedaily.estimated + EXCLUDED.estimated, updated_at = now()"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)


def unfolded_many(*, tenant_ids: set[int] | None, since: datetime.date) -> dict[int, dict[tuple, Decimal]]:
    """Counts still in Redis (live and batches not yet folded) from ``since`` on, of these tenants (None: all), in
    one pass: what enforcement adds to the folded aggregates. ``{tenant_id: {(day, feature, unit, model): quantity}}``."""
    client = _redis()
    found: dict[int, dict[tuple, Decimal]] = {}
    match = f"{next(iter(tenant_ids))}|*" if tenant_ids is not None and len(tenant_ids) == 1 else None
    keys = [LIVE_KEY, *client.scan_iter(f"{FOLD_PREFIX}*", count=500)]
    folded = set()
    batch_keys = [k.decode() if isinstance(k, bytes) else k for k in keys[1:]]
    if batch_keys:
        from apps.finops.models import MeterFold

        folded = set(MeterFold.objects.filter(key__in=batch_keys).values_list("key", flat=True))
    for key in keys:
        key = key.decode() if isinstance(key, bytes) else key
        if key in folded:
            continue  # already in PostgreSQL, waiting to be deleted
        for name, value in client.hscan_iter(key, match=match, count=1000):
            name = name.decode() if isinstance(name, bytes) else name
            tenant_id, day, feature, unit, model, estimated = parse_field(name)
            if estimated or day < since or (tenant_ids is not None and tenant_id not in tenant_ids):
                continue
            slots = found.setdefault(tenant_id, {})
            slot = (day, feature, unit, model)
            slots[slot] = slots.get(slot, Decimal(0)) + Decimal(value.decode() if isinstance(value, bytes) else value)
    return found
