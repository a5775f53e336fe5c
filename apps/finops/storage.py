"""Storage metering: each tenant's share of PostgreSQL, the graph store and the backups, sampled once a day.

A day's sample is the bytes held that day, as GB-days (so a month of 1 GB is 30 GB-days). A sample taken twice
the same day replaces the first (storage is a level, not a count of events).

- PostgreSQL: for every table with a ``tenant_id`` column, the table's total size (heap, indexes, TOAST) shared
  out by the tenant's share of its rows.
- Graph store: the store's own account of the tenant's graph where it has one (FalkorDB ``GRAPH.MEMORY
  USAGE``); otherwise nodes and edges times ``GRAPH_BYTES_PER_ITEM``.
- Backups: the good backups' bytes in the repository, shared out by each tenant's share of PostgreSQL.
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from apps.finops.choices import Feature, Unit

logger = logging.getLogger(__name__)
GB = Decimal(10**9)
GRAPH_BYTES_PER_ITEM = 200  # a rough size of one node or edge with its properties, when the store cannot say


def postgres_bytes_by_tenant() -> dict[int, dict]:
    """``{tenant_id: {"rows": n, "bytes": b}}`` over every table holding tenant rows."""
    from apps.safety.checksums import table_names

    found: dict[int, dict] = {}
    with connection.cursor() as cursor:
        for name, has_tenant in table_names(cursor):
            if not has_tenant:
                continue
            cursor.execute(
                sql.SQL("SELECT tenant_id, count(*) FROM {} WHERE tenant_id IS NOT NULL GROUP BY tenant_id").format(
                    sql.Identifier(name)
                )
            )
            counts = cursor.fetchall()
            total = sum(count for _, count in counts)
            if not total:
                continue
            cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [name])
            size = cursor.fetchone()[0] or 0
            for tenant_id, count in counts:
                slot = found.setdefault(tenant_id, {"rows": 0, "bytes": 0})
                slot["rows"] += count
                slot["bytes"] += size * count // total
    return found


def graph_bytes(tenant_ids) -> dict[int, int]:
    from apps.graph.store import GraphStoreUnavailable, get_store

    found = {}
    try:
        store = get_store()
    except GraphStoreUnavailable as exc:
        logger.warning("storage sample: graph store unavailable: %s", exc)
        return found
    try:
        for tenant_id in tenant_ids:
            try:
                size = store.size_bytes(tenant_id)
                if size is None:
                    nodes, edges = store.counts(tenant_id)
                    size = (nodes + edges) * GRAPH_BYTES_PER_ITEM
                found[tenant_id] = size
            except GraphStoreUnavailable as exc:
                logger.warning("storage sample: graph of tenant %s: %s", tenant_id, exc)
    finally:
        store.close()
    return found


def backup_bytes() -> int:
    from apps.safety.choices import BackupStatus
    from apps.safety.models import Backup

    return sum(Backup.objects.filter(status=BackupStatus.GOOD).values_list("size_bytes", flat=True))


def storage_sample(*, day: datetime.date | None = None) -> dict:
    """Record today's storage of every tenant (replacing an earlier sample of the same day)."""
    from apps.core.models import Tenant

    day = day or timezone.now().astimezone(datetime.UTC).date()
    tenant_ids = list(Tenant.objects.values_list("pk", flat=True))
    postgres = postgres_bytes_by_tenant()
    graph = graph_bytes(tenant_ids)
    backups = backup_bytes()
    all_postgres = sum(item["bytes"] for item in postgres.values()) or 1
    rows = []
    for tenant_id in tenant_ids:
        pg = postgres.get(tenant_id, {"bytes": 0})["bytes"]
        rows += [
            (tenant_id, Feature.STORAGE_POSTGRES, Decimal(pg) / GB),
            (tenant_id, Feature.STORAGE_GRAPH, Decimal(graph.get(tenant_id, 0)) / GB),
            (tenant_id, Feature.STORAGE_BACKUP, Decimal(backups) * pg / all_postgres / GB),
        ]
    with transaction.atomic(), connection.cursor() as cursor:
        for tenant_id, feature, quantity in rows:
            cursor.execute(
                "INSERT INTO finops_usagedaily (tenant_id, day, feature, unit, model, quantity, estimated, updated_at) "
                "VALUES (%s, %s, %s, %s, '', %s, 0, now()) ON CONFLICT (tenant_id, day, feature, unit, model) "
                "DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()",
                [tenant_id, day, feature, Unit.GB_DAY, round(quantity, 6)],
            )
    return {
        "day": day.isoformat(),
        "tenants": len(tenant_ids),
        "postgres_bytes": sum(item["bytes"] for item in postgres.values()),
        "graph_bytes": sum(graph.values()),
        "backup_bytes": backups,
    }
