"""The transactional outbox moves from apps.graph to core, which writes it, and gets a row per consumer.

The table is renamed, not recreated, so rows waiting for the graph drain are kept; they all belong to the
graph projection (the only consumer until now). ``apps/graph/migrations/0003`` drops graph's model state and
keeps a proxy over this one.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_entity_search_vector_entity_entity_search_vector_gin"),
        ("graph", "0002_drain_schedule"),  # the table to take over exists
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE graph_outboxevent RENAME TO core_outboxevent",
                    reverse_sql="ALTER TABLE core_outboxevent RENAME TO graph_outboxevent",
                ),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="OutboxEvent",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "tenant_id",
                            models.BigIntegerField(
                                help_text="Tenant of the changed record (no foreign key: rows outlive it)."
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[("entity", "Entity"), ("relationship", "Relationship")], max_length=16
                            ),
                        ),
                        ("object_id", models.UUIDField()),
                        (
                            "op",
                            models.CharField(
                                choices=[("upsert", "Created or changed"), ("delete", "Deleted")], max_length=8
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "attempts",
                            models.PositiveIntegerField(default=0, help_text="Failed attempts to apply this row."),
                        ),
                        ("last_error", models.TextField(blank=True)),
                    ],
                    options={"verbose_name": "outbox event", "ordering": ["id"]},
                ),
            ],
        ),
        migrations.AddField(
            model_name="outboxevent",
            name="consumer",
            field=models.CharField(
                choices=[("graph", "Graph projection"), ("er", "Online entity resolution")],
                default="graph",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name="outboxevent",
            index=models.Index(fields=["consumer", "id"], name="outbox_consumer_idx"),
        ),
    ]
