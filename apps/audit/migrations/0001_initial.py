"""The audit log moves out of apps.compliance into its own app (issue 12: the audit log sits at the bottom of
the layers, the SOC 2 pack at the top).

The tables already exist (created by compliance 0001-0003): this migration takes the models over in Django's
state only, moves their content types (so permissions and groups keep pointing at them), then renames the
tables, the append-only trigger and its function to the new app's names. Compliance 0005 drops the models from
its own state afterwards.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

RENAME_TRIGGER = """
ALTER TRIGGER compliance_auditevent_no_update ON audit_auditevent RENAME TO audit_auditevent_no_update;
ALTER FUNCTION compliance_audit_append_only() RENAME TO audit_append_only;
"""
RENAME_TRIGGER_BACK = """
ALTER TRIGGER audit_auditevent_no_update ON audit_auditevent RENAME TO compliance_auditevent_no_update;
ALTER FUNCTION audit_append_only() RENAME TO compliance_audit_append_only;
"""


def _move_content_types(apps, schema_editor, *, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in ("auditevent", "auditsigningkey"):
        if content_type.objects.filter(app_label=target, model=model).exists():
            continue
        content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, source="compliance", target="audit")


def backwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, source="audit", target="compliance")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("compliance", "0004_verify_schedule"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("seq", models.BigIntegerField(editable=False, unique=True)),
                        ("created_at", models.DateTimeField(editable=False)),
                        (
                            "actor_label",
                            models.CharField(
                                blank=True, help_text="Who acted, as it read at the time.", max_length=200
                            ),
                        ),
                        ("event_type", models.CharField(db_index=True, max_length=100)),
                        ("target_type", models.CharField(blank=True, max_length=100)),
                        ("target_id", models.CharField(blank=True, max_length=200)),
                        ("payload", models.JSONField(blank=True, default=dict)),
                        ("prev_hash", models.CharField(editable=False, max_length=64)),
                        ("hash", models.CharField(editable=False, max_length=64, unique=True)),
                        ("signature", models.CharField(editable=False, max_length=128)),
                        ("key_id", models.CharField(editable=False, max_length=16)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="core.tenant",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-seq"],
                        "db_table": "compliance_auditevent",
                        "indexes": [
                            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_created_idx"),
                            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="AuditSigningKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("key_id", models.CharField(max_length=16, unique=True)),
                        ("public_key", models.CharField(help_text="Raw Ed25519 public key, hex.", max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"ordering": ["-created_at"], "db_table": "compliance_auditsigningkey"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AlterModelTable(name="auditevent", table=None),
        migrations.AlterModelTable(name="auditsigningkey", table=None),
        migrations.RunSQL(RENAME_TRIGGER, RENAME_TRIGGER_BACK),
    ]
