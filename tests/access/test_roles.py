"""Roles become admin permissions; changes are allowed per tenant by the admin-change policy."""

import pytest

from apps.core import services
from apps.core.models import Entity
from tests import factories

pytestmark = pytest.mark.django_db


def test_role_decides_staff_and_group(tenant_a):
    reader = factories.user(tenant=tenant_a, role="reader")
    reviewer = factories.user(tenant=tenant_a, role="reviewer")
    assert not reader.is_staff and [g.name for g in reader.groups.all()] == ["role:reader"]
    reviewer.refresh_from_db()
    assert reviewer.is_staff and reviewer.has_perm("core.view_entity") and not reviewer.has_perm("core.change_entity")


def test_highest_role_across_tenants_and_demotion(tenant_a, tenant_b):
    user = factories.user(tenant=tenant_a, role="reader")
    services.membership_set(user=user, tenant=tenant_b, role="admin")
    user.refresh_from_db()
    assert user.is_staff and [g.name for g in user.groups.all()] == ["role:admin"]
    services.membership_set(user=user, tenant=tenant_b, role="reader")
    user.refresh_from_db()
    assert not user.is_staff and [g.name for g in user.groups.all()] == ["role:reader"]


def test_analyst_in_one_tenant_cannot_change_rows_where_they_are_a_reader(client, tenant_a, tenant_b):
    # Given an analyst in A who is only a reader in B, with no hand-granted permissions
    user = factories.user(tenant=tenant_a, role="analyst", clearance=2, username="mixed")
    services.membership_set(user=user, tenant=tenant_b, role="reader", clearance=2)
    mine = factories.entity(tenant=tenant_a, name="Alpha Row")
    theirs = factories.entity(tenant=tenant_b, name="Bravo Row")
    client.force_login(user)
    # When they open both change pages and the add form
    own_page = client.get(f"/admin/core/entity/{mine.pk}/change/").content.decode()
    other_page = client.get(f"/admin/core/entity/{theirs.pk}/change/").content.decode()
    add_page = client.get("/admin/core/entity/add/").content.decode()
    # Then A's row is editable, B's is view-only, and B is not offered for new rows
    assert 'name="display_name"' in own_page
    assert "Bravo Row" in other_page and 'name="display_name"' not in other_page
    assert ">alpha<" in add_page and ">bravo<" not in add_page
    response = client.post(
        f"/admin/core/entity/{theirs.pk}/change/",
        {
            "kind": "person",
            "display_name": "Renamed",
            "attributes": "{}",
            "sensitivity": 1,
            "labels": "",
            "provenance-TOTAL_FORMS": 0,
            "provenance-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 403
    assert Entity.objects.get(pk=theirs.pk).display_name == "Bravo Row"
    from apps.audit.models import AuditEvent

    denied = AuditEvent.objects.filter(event_type="access.denied", target_id=str(theirs.pk)).get()
    assert denied.payload["action"] == "admin-change"


def test_only_tenant_admins_manage_object_grants(client, tenant_a):
    entity = factories.entity(tenant=tenant_a, name="Shared Row")
    analyst = factories.user(tenant=tenant_a, role="analyst", username="an")
    client.force_login(analyst)
    assert client.get(f"/admin/core/entity/{entity.pk}/permissions/").status_code == 403
    admin_user = factories.user(tenant=tenant_a, role="admin", username="ad")
    client.force_login(admin_user)
    page = client.get(f"/admin/core/entity/{entity.pk}/permissions/")
    assert page.status_code == 200 and "Shared Row" in page.content.decode()
