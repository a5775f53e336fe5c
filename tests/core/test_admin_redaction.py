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
    return {
        "viewer": viewer,
        "hidden": hidden,
        "named": named,
        "plain": plain,
        "to_hidden": to_hidden,
        "to_named": to_named,
    }


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
        {
            "tenant": tenant_a.pk,
            "kind": "knows",
            "from_entity": world["plain"].pk,
            "to_entity": world["hidden"].pk,
            "attributes": "{}",
            "sensitivity": "0",
        },
    )
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


def test_history_delete_and_messages_name_the_entity_as_the_viewer_may_see_it(client, tenant_a, world):
    named = world["named"]
    admin_low = factories.user(tenant=tenant_a, role="admin", clearance=2, username="lowadmin")
    client.force_login(admin_low)
    for url in (f"/admin/core/entity/{named.pk}/history/", f"/admin/core/entity/{named.pk}/delete/"):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        assert "Anna Example [withheld]" in text
        assert_no_secret(text)
    bulk = client.post("/admin/core/entity/", {"action": "delete_selected", "_selected_action": [named.pk]})
    assert_no_secret(bulk.content.decode())
    done = client.post(f"/admin/core/entity/{named.pk}/delete/", {"post": "yes"}, follow=True)
    assert_no_secret(done.content.decode())
    from django.contrib.admin.models import LogEntry

    assert all("998877" not in e.object_repr for e in LogEntry.objects.all())


def test_the_decision_tester_names_the_entity_as_the_operator_may_see_it(client, world):
    client.force_login(world["viewer"])
    response = client.get(
        "/admin/access/policybundleversion/test-decision/",
        {"user": world["viewer"].pk, "entity": str(world["named"].pk), "action": "read"},
    )
    assert response.status_code == 200
    assert "Anna Example [withheld]" in response.content.decode()
    assert_no_secret(response.content.decode())


def test_relationship_kinds_the_policy_refuses_a_member_are_not_listed(client, tenant_a, tenant_b):
    source = services.source_get_or_create(tenant=tenant_b, name="tests")
    a = factories.entity(tenant=tenant_b, name="Payer", sensitivity=0, source=source)
    b = factories.entity(tenant=tenant_b, name="Payee", sensitivity=0, source=source)
    transfer = services.relationship_create(
        tenant=tenant_b, kind="transferred_to", from_entity=a, to_entity=b, source=source, sensitivity=0
    )
    knows = services.relationship_create(
        tenant=tenant_b, kind="knows", from_entity=a, to_entity=b, source=source, sensitivity=0
    )
    user = factories.user(tenant=tenant_a, role="admin", clearance=2, username="twohats")
    services.membership_set(user=user, tenant=tenant_b, role="reader", clearance=2)
    client.force_login(user)
    listing = client.get("/admin/core/relationship/").content.decode()
    assert f"/admin/core/relationship/{knows.pk}/change/" in listing
    assert f"/admin/core/relationship/{transfer.pk}/change/" not in listing


def test_admin_search_does_not_confirm_a_withheld_value(client, world):
    client.force_login(world["viewer"])
    for url in ("/admin/core/entity/", "/admin/core/relationship/"):
        assert "Anna Example" not in client.get(url, {"q": NATIONAL_ID}).content.decode(), url
        assert "Anna Example [withheld]" in client.get(url, {"q": "Anna"}).content.decode(), url
    assert "Plain Person" in client.get("/admin/core/entity/", {"q": "plain"}).content.decode()


def test_superusers_search_names_whole(admin_client, world):
    assert "Anna Example" in admin_client.get("/admin/core/entity/", {"q": NATIONAL_ID}).content.decode()
