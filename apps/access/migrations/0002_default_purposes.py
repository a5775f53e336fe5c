"""Every existing tenant gets the default purposes (new tenants get them from tenant_create)."""

from django.db import migrations

DEFAULT_PURPOSES = (("investigation", "Investigation"), ("fraud-risk", "Fraud risk assessment"))


def add_defaults(apps, schema_editor):
    Tenant = apps.get_model("core", "Tenant")
    TenantPurpose = apps.get_model("access", "TenantPurpose")
    for tenant in Tenant.objects.all():
        for code, label in DEFAULT_PURPOSES:
            TenantPurpose.objects.get_or_create(tenant=tenant, code=code, defaults={"label": label})


class Migration(migrations.Migration):
    dependencies = [("access", "0001_initial"), ("core", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
