"""Index display names without the words that show a withheld attribute's value.

An account named "Commerzbank DE89 3704 0044 …" had its IBAN in the index through its name although
the IBAN attribute itself is left out (search_excludedfield): a search for the IBAN confirmed it to a
reader who may not see it. A word of the name is left out of the index when it is part of an excluded
attribute's value (at least 4 characters, or 2 with a digit: "DE89", "3704", "4821" of "••••4821").
Names are shown as the policy allows by apps.access (RedactedEntity.display_name); this keeps the index
from matching what they withhold, for everyone, as it already does for the attributes.
"""

from django.db import migrations

SQL = r"""
CREATE FUNCTION search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT regexp_replace(lower(coalesce(t, '')), '[^[:alnum:]]', '', 'g')
$$;

CREATE FUNCTION search_entity_name(entity_name text, attrs jsonb) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(string_agg(w.word, ' ' ORDER BY w.n), '')
  FROM regexp_split_to_table(coalesce(entity_name, ''), '\s+') WITH ORDINALITY AS w(word, n)
  WHERE NOT EXISTS (
    SELECT 1 FROM jsonb_each_text(coalesce(attrs, '{}'::jsonb)) AS kv(key, value)
    WHERE kv.key IN (SELECT name FROM search_excludedfield)
      AND (length(search_fold(w.word)) >= 4 OR (length(search_fold(w.word)) >= 2 AND search_fold(w.word) ~ '[0-9]'))
      AND position(search_fold(w.word) IN search_fold(kv.value)) > 0
  )
$$;

CREATE OR REPLACE FUNCTION search_entity_vector() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE cfg regconfig := search_tenant_config(NEW.tenant_id);
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector(cfg, search_entity_name(NEW.display_name, NEW.attributes)), 'A') ||
    setweight(to_tsvector(cfg, search_entity_text(NEW.attributes)), 'B');
  RETURN NEW;
END; $$;
"""

REVERSE = r"""
CREATE OR REPLACE FUNCTION search_entity_vector() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE cfg regconfig := search_tenant_config(NEW.tenant_id);
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector(cfg, coalesce(NEW.display_name, '')), 'A') ||
    setweight(to_tsvector(cfg, search_entity_text(NEW.attributes)), 'B');
  RETURN NEW;
END; $$;
DROP FUNCTION IF EXISTS search_entity_name(text, jsonb);
DROP FUNCTION IF EXISTS search_fold(text);
"""

BACKFILL = """
UPDATE core_entity SET display_name = display_name
WHERE attributes ?| ARRAY(SELECT name FROM search_excludedfield)::text[]
"""


class Migration(migrations.Migration):
    dependencies = [("search", "0002_entity_search_trigger")]

    operations = [migrations.RunSQL(SQL, REVERSE), migrations.RunSQL(BACKFILL, migrations.RunSQL.noop)]
