"""Settled reservations keep their real cost for a minute, and the reservation is taken by one function call."""

from django.db import migrations, models

# One round trip for the LLM gateway's check at the cap (apps.finops.gateway.reserve): take the tenant's lock,
# add up what is held, insert the reservation when it fits. In a VOLATILE function each statement reads a fresh
# snapshot, so the sum taken after the lock sees every reservation committed before it was granted.
RESERVE = """
CREATE OR REPLACE FUNCTION finops_llm_reserve(
    p_lock bigint, p_tenant bigint, p_model text, p_amount numeric, p_now timestamptz, p_expires timestamptz,
    p_since timestamptz, p_headroom numeric
) RETURNS TABLE (held numeric, reservation_id bigint) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_held numeric;
    v_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT COALESCE(SUM(r.amount), 0) INTO v_held FROM finops_llmreservation r
    WHERE r.tenant_id = p_tenant AND ((r.settled_at IS NULL AND r.expires_at > p_now) OR r.settled_at >= p_since);
    IF v_held + p_amount <= p_headroom THEN
        INSERT INTO finops_llmreservation (tenant_id, model, amount, created_at, expires_at)
        VALUES (p_tenant, p_model, p_amount, p_now, p_expires) RETURNING id INTO v_id;
    END IF;
    RETURN QUERY SELECT v_held, v_id;
END
$$;
"""
RESERVE_BACK = "DROP FUNCTION IF EXISTS finops_llm_reserve(bigint, bigint, text, numeric, timestamptz, timestamptz, timestamptz, numeric);"


class Migration(migrations.Migration):
    dependencies = [
        ("finops", "0002_llm_reservation"),
    ]

    operations = [
        migrations.AddField(
            model_name="llmreservation",
            name="settled_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(RESERVE, RESERVE_BACK),
    ]
