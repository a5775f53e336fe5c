"""Rows written by COPY (demo generator, importer) are searchable: the index trigger covers every write path."""

import json

import pytest

from apps.access import services as access
from apps.core.importing import entities_import
from apps.core.models import Entity
from apps.search.selectors import entity_search
from tests import factories

pytestmark = pytest.mark.django_db


def test_imported_entities_are_indexed_and_updates_reindex(tenant_a, tmp_path):
    user = factories.user(tenant=tenant_a, role="analyst", clearance=2)
    path = tmp_path / "people.jsonl"
    path.write_text(
        json.dumps(
            {"external_id": "p1", "kind": "person", "name": "Quincy Importwell", "attributes": {"city": "Tromsø"}}
        )
        + "\n"
    )
    entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    subject = access.subject_for(user=user)
    assert [h.entity.display_name for h in entity_search(subject=subject, q="importwell").hits] == ["Quincy Importwell"]
    path.write_text(
        json.dumps(
            {"external_id": "p1", "kind": "person", "name": "Quincy Importwell", "attributes": {"city": "Narvik"}}
        )
        + "\n"
    )
    entities_import(tenant=tenant_a, path_or_stream=path, actor=None)
    assert entity_search(subject=subject, q="narvik").hits
    assert not entity_search(subject=subject, q="tromsø").hits


def test_demo_entities_are_indexed(db):
    from apps.core.demo import demo_seed

    demo_seed(slugs=["demo-search"], entities=300, seed=7, replace=False, actor=None, progress=None)
    entity = Entity.objects.filter(tenant__slug="demo-search", kind="person").first()
    user = factories.user(tenant=entity.tenant, role="analyst", clearance=4)
    family = entity.attributes["family_name"]
    hits = entity_search(subject=access.subject_for(user=user), q=family, first=100).hits
    assert entity.pk in {h.entity.pk for h in hits}
