"""Refuse UPDATE and DELETE on audit events in the database itself.

The ORM refuses too, but this also stops raw SQL and other clients. Someone
with DDL rights can still drop the trigger; the hash chain and signatures are
what detect that (``manage.py audit_verify``). TRUNCATE is not trapped here
because Django's test flush uses it; production revokes TRUNCATE from the
application role instead (docs/operations/audit.md).
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
"""

REVERSE = """
DROP TRIGGER IF EXISTS compliance_auditevent_no_update ON compliance_auditevent;
DROP FUNCTION IF EXISTS compliance_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
