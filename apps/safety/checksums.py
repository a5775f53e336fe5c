"""Row counts and content checksums of every table, per tenant, as one snapshot sees them.

A restore point records them on the live database at the exact point it marks; a drill computes them again on
the database it restored to that point, and every number must match. The checksum of a table is the sum over
its rows of the first 60 bits of ``md5(row::text)`` (PostgreSQL's own text form of the whole row), so it does not
depend on row order and costs one sequential scan; a changed, added or removed row changes it (a collision
needs two differences whose hashes cancel out, about one chance in 2^60).
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg import sql

_TABLES = """
SELECT c.relname,
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND NOT c.relispartition
ORDER BY c.relname
"""


def table_names(cursor) -> list[tuple[str, bool]]:
    cursor.execute(_TABLES)
    return [(name, bool(has_tenant)) for name, has_tenant in cursor.fetchall()]


def table_checksums(cursor, *, progress: Callable[[str], None] | None = None) -> dict:
    """``{table: {"rows": n, "sum": "…", "tenants": {"<tenant id>": [n, "…"]}}}`` in the cursor's snapshot."""
    found = {}
    for name, has_tenant in table_names(cursor):
        digest = sql.SQL("sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint)")
        if has_tenant:
            query = sql.SQL("SELECT t.tenant_id, count(*), {digest} FROM {table} t GROUP BY t.tenant_id").format(
                digest=digest, table=sql.Identifier(name)
            )
        else:
            query = sql.SQL("SELECT NULL, count(*), {digest} FROM {table} t").format(
                digest=digest, table=sql.Identifier(name)
            )
        cursor.execute(query)
        rows, total, tenants = 0, 0, {}
        for tenant_id, count, summed in cursor.fetchall():
            summed = int(summed or 0)
            rows += count
            total += summed
            if has_tenant:
                tenants["none" if tenant_id is None else str(tenant_id)] = [count, str(summed)]
        found[name] = {"rows": rows, "sum": str(total), "tenants": tenants}
        if progress:
            progress(name)
    return found


def differences(expected: dict, actual: dict) -> list[str]:
    """What differs between two ``table_checksums`` results, in words; empty when they are equal."""
    problems = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None:
            problems.append(f"{name}: a table the source did not have at that point")
            continue
        if got is None:
            problems.append(f"{name}: missing from the restored database")
            continue
        if want["rows"] != got["rows"] or want["sum"] != got["sum"]:
            tenants = sorted(
                tenant
                for tenant in set(want["tenants"]) | set(got["tenants"])
                if want["tenants"].get(tenant) != got["tenants"].get(tenant)
            )
            where = f" (tenants {', '.join(tenants)})" if tenants else ""
            problems.append(f"{name}: {got['rows']:,} rows, checksum differs from the source's {want['rows']:,}{where}")
    return problems


def summary(checksums: dict) -> dict:
    """Totals for the report: tables, rows, and rows per tenant."""
    per_tenant: dict[str, int] = {}
    for table in checksums.values():
        for tenant, (count, _) in table["tenants"].items():
            per_tenant[tenant] = per_tenant.get(tenant, 0) + count
    return {
        "tables": len(checksums),
        "rows": sum(table["rows"] for table in checksums.values()),
        "rows_per_tenant": dict(sorted(per_tenant.items())),
    }
