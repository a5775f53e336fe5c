"""Admin pages name entities only as the policy lets the viewer see them (issue 11, finding 3).

A compliance officer of clearance "internal" may not read a top-secret person, nor the national id of
a visible one, whose name is built from it. No changelist, change page or title prints either.
"""

import pytest

from apps.core import services
from apps.core.models import Provenance
from tests import factories

pytestmark = pytest.mark.django_db

SECRET_NAME = "Zebulon Hiddenperson"
NATIONAL_ID = "NID-998877"


@pytest.fixture
def world(tenant_a):
    viewer = factories.user(tenant=tenant_a, role="compliance", clearance=1, username="officer")
    source = services.source_get_or_create(tenant=tenant_a, name="tests")
    hidden = factories.entity(tenant=tenant_a, name=SECRET_NAME, sensitivity=4, source=source)
    named = factories.entity(
        tenant=tenant_a,
        name=f"Anna Example {NATIONAL_ID}",
        sensitivity=0,
        attributes={"national_id": NATIONAL_ID},
        source=source,
    )
    plain = factories.entity(tenant=tenant_a, name="Plain Person", sensitivity=0, source=source)
    to_hidden = services.relationship_create(
        tenant=tenant_a, kind="knows", from_entity=plain, to_entity=hidden, source=source
    )
    to_named = services.relationship_create(
        tenant=tenant_a, kind="knows", from_entity=plain, to_entity=named, source=source
    )
    return {"viewer": viewer, "hidden": hidden, "named": named, "plain": plain, "to_hidden": to_hidden,
            "to_named": to_named}  # fmt: skip


def assert_no_secret(text):
    assert SECRET_NAME not in text
    assert NATIONAL_ID not in text and "998877" not in text


def pages(world):
    named, hidden = world["named"], world["hidden"]
    provenance = Provenance.objects.filter(entity=named).first()
    return [
        "/admin/core/entity/",
        f"/admin/core/entity/{named.pk}/change/",
        "/admin/core/relationship/",
        f"/admin/core/relationship/{world['to_named'].pk}/change/",
        "/admin/core/provenance/",
        f"/admin/core/provenance/{provenance.pk}/change/",
        f"/admin/core/provenance/{Provenance.objects.filter(entity=hidden).first().pk}/change/",
        f"/admin/core/entity/{hidden.pk}/change/",
        f"/admin/core/relationship/{world['to_hidden'].pk}/change/",
    ]


def test_no_admin_page_prints_a_hidden_name_or_a_withheld_value(client, world):
    client.force_login(world["viewer"])
    for url in pages(world):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert_no_secret(response.content.decode())


def test_visible_entities_keep_their_names_with_the_withheld_part_marked(client, world):
    client.force_login(world["viewer"])
    listing = client.get("/admin/core/relationship/").content.decode()
    assert "Plain Person" in listing and "Anna Example [withheld]" in listing
    # a relationship to a hidden entity is not listed at all
    assert str(world["to_hidden"].pk) not in listing
    change = client.get(f"/admin/core/entity/{world['named'].pk}/change/").content.decode()
    assert "Anna Example [withheld]" in change
    assert 'name="display_name"' not in change  # a name built from a withheld field is not editable either


def test_superusers_see_everything(admin_client, world):
    assert SECRET_NAME in admin_client.get("/admin/core/entity/").content.decode()
    page = admin_client.get(f"/admin/core/relationship/{world['to_named'].pk}/change/").content.decode()
    assert NATIONAL_ID in page


def test_a_raw_id_picker_does_not_name_a_hidden_entity(client, tenant_a, world):
    analyst = factories.user(tenant=tenant_a, role="analyst", clearance=1, username="lowanalyst")
    client.force_login(analyst)
    response = client.post(
        "/admin/core/relationship/add/",
        {"tenant": tenant_a.pk, "kind": "knows", "from_entity": world["plain"].pk, "to_entity": world["hidden"].pk,
         "attributes": "{}", "sensitivity": "0"},
    )  # fmt: skip
    text = response.content.decode()
    assert response.status_code == 200 and "Select a valid choice" in text
    assert_no_secret(text)


def test_entity_autocomplete_names_nothing(client, world):
    client.force_login(world["viewer"])
    for term in ("Anna", "998877", "Zebulon"):
        response = client.get(
            "/admin/autocomplete/",
            {"app_label": "core", "model_name": "relationship", "field_name": "from_entity", "term": term},
        )
        assert response.status_code == 200
        assert response.json()["results"] == []
        assert_no_secret(response.content.decode())
