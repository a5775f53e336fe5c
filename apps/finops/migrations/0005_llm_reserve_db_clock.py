"""finops_llm_reserve reads PostgreSQL's clock, not the caller's, and takes a lock of its own class.

Hosts' clocks differ: a call settled on one host and stamped with its clock could fall before the snapshot time
another host compares it with, and be counted nowhere. Every time the cap check compares is now the database's
(``clock_timestamp()``; the caller reads the snapshot time from it too). The lock is the two-key form
``(class, tenant)``, which no single-key advisory lock (the fold's) can collide with.
"""

import importlib

from django.db import migrations

# The lock's class, 7962 (0x1F1A), is apps.finops.gateway.LOCK_CLASS.
RESERVE = """
DROP FUNCTION IF EXISTS finops_llm_reserve(bigint, bigint, text, numeric, timestamptz, timestamptz, timestamptz, numeric);
CREATE FUNCTION finops_llm_reserve(
    p_tenant bigint, p_model text, p_amount numeric, p_lifetime interval, p_since timestamptz, p_headroom numeric
) RETURNS TABLE (in_flight numeric, settled numeric, reservation_id bigint) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz;
    v_in_flight numeric;
    v_settled numeric;
    v_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7962, p_tenant::integer);
    v_now := clock_timestamp();
    SELECT COALESCE(SUM(r.amount) FILTER (WHERE r.settled_at IS NULL AND r.expires_at > v_now), 0),
           COALESCE(SUM(r.amount) FILTER (WHERE r.settled_at >= p_since), 0)
    INTO v_in_flight, v_settled FROM finops_llmreservation r
    WHERE r.tenant_id = p_tenant AND ((r.settled_at IS NULL AND r.expires_at > v_now) OR r.settled_at >= p_since);
    IF v_in_flight + v_settled + p_amount <= p_headroom THEN
        INSERT INTO finops_llmreservation (tenant_id, model, amount, created_at, expires_at)
        VALUES (p_tenant, p_model, p_amount, v_now, v_now + p_lifetime) RETURNING id INTO v_id;
    END IF;
    RETURN QUERY SELECT v_in_flight, v_settled, v_id;
END
$$;
"""
RESERVE_BACK = (
    "DROP FUNCTION IF EXISTS finops_llm_reserve(bigint, text, numeric, interval, timestamptz, numeric);"
    + importlib.import_module("apps.finops.migrations.0004_llm_reserve_split").RESERVE
)


class Migration(migrations.Migration):
    dependencies = [("finops", "0004_llm_reserve_split")]

    operations = [migrations.RunSQL(RESERVE, RESERVE_BACK)]
