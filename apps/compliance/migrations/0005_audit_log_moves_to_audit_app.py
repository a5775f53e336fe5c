"""The audit log's models now belong to apps.audit (its 0001 took them over and renamed the tables); drop them
from this app's migration state. Nothing changes in the database here."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0004_verify_schedule"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEvent"),
                migrations.DeleteModel(name="AuditSigningKey"),
            ],
            database_operations=[],
        ),
    ]
