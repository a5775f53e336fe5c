"""Keep core_entity.search_vector current on every write path, COPY included, with a trigger.

Words of attributes a policy may withhold (search_excludedfield, synced from the policy bundle)
are left out, so a redacted field can never make an entity match. The display name weighs A,
other attributes B. The per-tenant text search configuration comes from search_tenantsearchsettings.
"""

from django.db import migrations

SQL = """
CREATE FUNCTION search_entity_text(attrs jsonb) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(string_agg(kv.value, ' '), '')
  FROM jsonb_each_text(coalesce(attrs, '{}'::jsonb)) AS kv(key, value)
  WHERE kv.key NOT IN (SELECT name FROM search_excludedfield)
$$;

CREATE FUNCTION search_tenant_config(tenant bigint) RETURNS regconfig LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT text_search_config::regconfig FROM search_tenantsearchsettings WHERE tenant_id = tenant),
    'simple'::regconfig)
$$;

CREATE FUNCTION search_entity_vector() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE cfg regconfig := search_tenant_config(NEW.tenant_id);
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector(cfg, coalesce(NEW.display_name, '')), 'A') ||
    setweight(to_tsvector(cfg, search_entity_text(NEW.attributes)), 'B');
  RETURN NEW;
END; $$;

CREATE TRIGGER core_entity_search_vector
  BEFORE INSERT OR UPDATE OF display_name, attributes, tenant_id ON core_entity
  FOR EACH ROW EXECUTE FUNCTION search_entity_vector();
"""

REVERSE = """
DROP TRIGGER IF EXISTS core_entity_search_vector ON core_entity;
DROP FUNCTION IF EXISTS search_entity_vector();
DROP FUNCTION IF EXISTS search_tenant_config(bigint);
DROP FUNCTION IF EXISTS search_entity_text(jsonb);
"""


def exclude_governed_then_backfill(apps, schema_editor):
    from apps.access.bundle import compile_bundle

    ExcludedField = apps.get_model("search", "ExcludedField")
    for name in sorted(compile_bundle().governed_fields):
        ExcludedField.objects.get_or_create(name=name)
    schema_editor.execute("UPDATE core_entity SET display_name = display_name")


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial"), ("core", "0002_entity_search_vector_entity_entity_search_vector_gin")]

    operations = [
        migrations.RunSQL(SQL, REVERSE),
        migrations.RunPython(exclude_governed_then_backfill, migrations.RunPython.noop),
    ]
