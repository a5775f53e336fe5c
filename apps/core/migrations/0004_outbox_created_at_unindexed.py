"""The outbox's created_at index is dropped: nothing reads rows by it (the oldest pending row is the lowest id,
``outbox_lag``), and with a row per consumer every bulk write paid for it twice."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_outboxevent"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboxevent",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True),
        ),
    ]
