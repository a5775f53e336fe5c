"""Formerly scheduled the graph outbox drain in Celery beat; now a no-op kept for history.

The schedule is declared in intelgraph/schedules.py and written by ``schedules_sync`` after every migrate.
Databases that ran the old version already hold the row (same name), which the sync adopts and keeps in
step; the dependencies stay so the migration graph is unchanged.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("graph", "0001_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = []
