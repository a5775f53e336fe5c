"""finops_llm_reserve tells calls in flight from calls settled since the snapshot (the refusal says them apart)."""

import importlib

from django.db import migrations

RESERVE = """
DROP FUNCTION IF EXISTS finops_llm_reserve(bigint, bigint, text, numeric, timestamptz, timestamptz, timestamptz, numeric);
CREATE FUNCTION finops_llm_reserve(
    p_lock bigint, p_tenant bigint, p_model text, p_amount numeric, p_now timestamptz, p_expires timestamptz,
    p_since timestamptz, p_headroom numeric
) RETURNS TABLE (in_flight numeric, settled numeric, reservation_id bigint) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_in_flight numeric;
    v_settled numeric;
    v_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT COALESCE(SUM(r.amount) FILTER (WHERE r.settled_at IS NULL AND r.expires_at > p_now), 0),
           COALESCE(SUM(r.amount) FILTER (WHERE r.settled_at >= p_since), 0)
    INTO v_in_flight, v_settled FROM finops_llmreservation r
    WHERE r.tenant_id = p_tenant AND ((r.settled_at IS NULL AND r.expires_at > p_now) OR r.settled_at >= p_since);
    IF v_in_flight + v_settled + p_amount <= p_headroom THEN
        INSERT INTO finops_llmreservation (tenant_id, model, amount, created_at, expires_at)
        VALUES (p_tenant, p_model, p_amount, p_now, p_expires) RETURNING id INTO v_id;
    END IF;
    RETURN QUERY SELECT v_in_flight, v_settled, v_id;
END
$$;
"""
# Back to 0003's function (the code of 0003 calls it).
RESERVE_BACK = (
    "DROP FUNCTION IF EXISTS finops_llm_reserve(bigint, bigint, text, numeric, timestamptz, timestamptz, "
    "timestamptz, numeric);" + importlib.import_module("apps.finops.migrations.0003_llm_reservation_settled").RESERVE
)


class Migration(migrations.Migration):
    dependencies = [("finops", "0003_llm_reservation_settled")]

    operations = [migrations.RunSQL(RESERVE, RESERVE_BACK)]
