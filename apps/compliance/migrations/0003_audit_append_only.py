"""Refuse UPDATE, DELETE and TRUNCATE on audit events in the database itself.

The ORM refuses too, but this also stops raw SQL and other clients. Someone
with DDL rights can still drop the trigger; the hash chain and signatures are
what detect that (``manage.py audit_verify``).
"""

from django.db import migrations

SQL = """
CREATE FUNCTION compliance_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END; $$;
CREATE TRIGGER compliance_auditevent_no_update BEFORE UPDATE OR DELETE ON compliance_auditevent
  FOR EACH ROW EXECUTE FUNCTION compliance_audit_append_only();
CREATE TRIGGER compliance_auditevent_no_truncate BEFORE TRUNCATE ON compliance_auditevent
  FOR EACH STATEMENT EXECUTE FUNCTION compliance_audit_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS compliance_auditevent_no_truncate ON compliance_auditevent;
DROP TRIGGER IF EXISTS compliance_auditevent_no_update ON compliance_auditevent;
DROP FUNCTION IF EXISTS compliance_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
