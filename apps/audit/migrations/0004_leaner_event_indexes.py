"""Three fewer indexes for every append to maintain (docs/benchmarks.md, the audit log).

``hash`` (unique) and ``event_type`` (db_index) each had a second, varchar_pattern_ops index for LIKE 'prefix%',
which nothing asks, and ``tenant_id`` had one of its own beside audit_tenant_created_idx, which leads with it.
The indexes are found in the catalogue by what they index, not by name: the table was renamed from
compliance_auditevent (0001), and Django's names for them depend on the table's name when they were made.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (what pg_get_indexdef says after "USING btree ", whether it backs a unique constraint)
REDUNDANT = {
    ("(event_type)", False),
    ("(event_type varchar_pattern_ops)", False),
    ("(hash varchar_pattern_ops)", False),
    ("(hash)", True),
    ("(tenant_id)", False),
}


def drop_redundant(apps, schema_editor):
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid), c.conname FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid LEFT JOIN pg_constraint c ON c.conindid = i.oid "
            "AND c.conrelid = x.indrelid WHERE x.indrelid = 'audit_auditevent'::regclass"
        )
        for name, definition, constraint in cursor.fetchall():
            columns = definition.split(" USING btree ", 1)[-1]
            if (columns, constraint is not None) not in REDUNDANT:
                continue
            if constraint:
                cursor.execute(f"ALTER TABLE audit_auditevent DROP CONSTRAINT {quote(constraint)}")
            else:
                cursor.execute(f"DROP INDEX {quote(name)}")
        cursor.execute("CREATE INDEX audit_event_type_idx ON audit_auditevent (event_type)")
        cursor.execute("ALTER TABLE audit_auditevent ADD CONSTRAINT audit_event_hash_unique UNIQUE (hash)")


def restore_redundant(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DROP CONSTRAINT audit_event_hash_unique")
        cursor.execute("DROP INDEX audit_event_type_idx")
        cursor.execute("ALTER TABLE audit_auditevent ADD CONSTRAINT audit_auditevent_hash_key UNIQUE (hash)")
        cursor.execute("CREATE INDEX audit_auditevent_hash_like ON audit_auditevent (hash varchar_pattern_ops)")
        cursor.execute("CREATE INDEX audit_auditevent_event_type ON audit_auditevent (event_type)")
        cursor.execute(
            "CREATE INDEX audit_auditevent_event_type_like ON audit_auditevent (event_type varchar_pattern_ops)"
        )
        cursor.execute("CREATE INDEX audit_auditevent_tenant_id ON audit_auditevent (tenant_id)")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_retention_and_holds"),
        ("core", "0004_outbox_created_at_unindexed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_redundant, restore_redundant)],
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="event_type",
                    field=models.CharField(max_length=100),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="hash",
                    field=models.CharField(editable=False, max_length=64),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="tenant",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.tenant",
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(fields=["event_type"], name="audit_event_type_idx"),
                ),
                migrations.AddConstraint(
                    model_name="auditevent",
                    constraint=models.UniqueConstraint(fields=("hash",), name="audit_event_hash_unique"),
                ),
            ],
        ),
    ]
