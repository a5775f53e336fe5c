"""The outbox table now belongs to core (``core/migrations/0003``); graph keeps a proxy showing its own rows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_outboxevent"),
        ("graph", "0002_drain_schedule"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="OutboxEvent")]),
        migrations.CreateModel(
            name="OutboxEvent",
            fields=[],
            options={"verbose_name": "graph outbox event", "proxy": True, "indexes": [], "constraints": []},
            bases=("core.outboxevent",),
        ),
    ]
