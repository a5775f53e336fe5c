"""The audit log becomes a Merkle log sealed off the request path (issue 13, docs/adr/0007-audit-merkle-log.md).

Events keep their table and stay append-only; they gain the inserting transaction (``xid``, set by a trigger so
no client can give another), the events they confirm and a format version (1 for the hash-chained events already
there). Positions, checkpoints and stored tree nodes are new append-only tables written by the sealer only.
Existing events are not touched: the sealer's first run adopts them as the log's first segment, in chain order.
"""

import django.contrib.postgres.fields
from django.db import migrations, models

TRIGGERS = """
CREATE FUNCTION audit_event_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The sealer's ordering rests on this being the inserting transaction: never trust the client's value.
  NEW.xid := pg_current_xact_id()::text::bigint;
  RETURN NEW;
END; $$;
CREATE TRIGGER audit_auditevent_xid BEFORE INSERT ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_event_xid();
CREATE TRIGGER audit_auditposition_no_update BEFORE UPDATE OR DELETE ON audit_auditposition
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_auditcheckpoint_no_update BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_audittreenode_no_update BEFORE UPDATE OR DELETE ON audit_audittreenode
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
"""
TRIGGERS_BACK = """
DROP TRIGGER IF EXISTS audit_audittreenode_no_update ON audit_audittreenode;
DROP TRIGGER IF EXISTS audit_auditcheckpoint_no_update ON audit_auditcheckpoint;
DROP TRIGGER IF EXISTS audit_auditposition_no_update ON audit_auditposition;
DROP TRIGGER IF EXISTS audit_auditevent_xid ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_xid();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        # Every event already in the table is hash-chained: version 1. New ones are 2.
        migrations.AddField(
            model_name="auditevent",
            name="version",
            field=models.PositiveSmallIntegerField(default=1, editable=False),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="version",
            field=models.PositiveSmallIntegerField(
                default=2,
                editable=False,
                help_text="1: hash-chained (before the Merkle log); 2: sealed by the sealer.",
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="xid",
            field=models.BigIntegerField(
                editable=False,
                help_text="The inserting transaction (pg_current_xact_id): the sealer takes events whose transaction "
                "and every older one have finished. Empty for version 1 events.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="confirms",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.BigIntegerField(),
                blank=True,
                default=list,
                editable=False,
                help_text="Numbers of earlier events this process appended and saw commit: the sealer reports any of "
                "them missing (deleted before it was sealed).",
                size=None,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["xid", "seq"], name="audit_xid_seq_idx"),
        ),
        migrations.CreateModel(
            name="AuditPosition",
            fields=[
                ("position", models.BigIntegerField(primary_key=True, serialize=False)),
                ("event_seq", models.BigIntegerField(unique=True)),
                ("leaf_hash", models.BinaryField()),
                (
                    "kind",
                    models.CharField(
                        choices=[("event", "event"), ("missing", "missing")], default="event", max_length=8
                    ),
                ),
                (
                    "confirmed_by",
                    models.BigIntegerField(blank=True, help_text="For a missing event: who confirmed it.", null=True),
                ),
            ],
            options={"ordering": ["position"]},
        ),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("size", models.BigIntegerField(unique=True)),
                (
                    "origin",
                    models.CharField(help_text="The log's name (AUDIT_LOG_ORIGIN when it was signed).", max_length=200),
                ),
                ("root_hash", models.CharField(max_length=64)),
                ("horizon", models.BigIntegerField()),
                ("created_at", models.DateTimeField()),
                ("key_id", models.CharField(max_length=16)),
                ("signature", models.CharField(max_length=128)),
            ],
            options={"ordering": ["-size"]},
        ),
        migrations.CreateModel(
            name="AuditTreeNode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.BigIntegerField()),
                ("hash", models.BinaryField()),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("level", "index"), name="audit_treenode_unique")]},
        ),
        migrations.RunSQL(TRIGGERS, TRIGGERS_BACK),
    ]
