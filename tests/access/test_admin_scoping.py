"""The admin shows staff only their own tenants' rows; superusers see everything."""

import pytest
from django.contrib.auth.models import Permission

from apps.audit.models import AuditEvent
from apps.core.models import Entity
from tests import factories

pytestmark = pytest.mark.django_db


def staff_of(tenant, *codenames):
    user = factories.user(tenant=tenant, username=f"staff-{tenant.slug}", password="pw-for-tests-123", staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def rows(tenant_a, tenant_b):
    return {
        "a": factories.entity(tenant=tenant_a, name="Alpha Only Person"),
        "b": factories.entity(tenant=tenant_b, name="Bravo Only Person"),
    }


def test_changelist_shows_only_own_tenant(client, tenant_a, rows):
    client.force_login(staff_of(tenant_a, "view_entity"))
    page = client.get("/admin/core/entity/").content.decode()
    assert "Alpha Only Person" in page
    assert "Bravo Only Person" not in page


def test_tenant_filter_lists_only_own_tenants(client, tenant_a, rows):
    from apps.core import services

    staff = staff_of(tenant_a, "view_entity")
    charlie = factories.tenant("charlie")
    services.membership_set(user=staff, tenant=charlie, role="reader")
    factories.entity(tenant=charlie, name="Charlie Person")
    client.force_login(staff)
    page = client.get("/admin/core/entity/").content.decode()
    assert f"?tenant__id__exact={charlie.pk}" in page
    assert f"?tenant__id__exact={tenant_a.pk}" in page
    assert "bravo" not in page.lower()


def test_change_page_of_other_tenant_is_not_reachable(client, tenant_a, rows):
    client.force_login(staff_of(tenant_a, "view_entity", "change_entity"))
    response = client.get(f"/admin/core/entity/{rows['b'].pk}/change/")
    # Django's admin redirects to the index with "doesn't exist" for objects outside the queryset
    assert response.status_code == 302
    follow = client.get(response["Location"]).content.decode()
    assert "Bravo Only Person" not in follow


def test_tenant_dropdown_is_scoped(client, tenant_a, tenant_b):
    client.force_login(staff_of(tenant_a, "add_entity", "view_entity"))
    page = client.get("/admin/core/entity/add/").content.decode()
    assert ">alpha<" in page
    assert ">bravo<" not in page


def test_audit_changelist_is_scoped_and_read_only(client, tenant_a, tenant_b, rows):
    client.force_login(staff_of(tenant_a, "view_auditevent"))
    page = client.get("/admin/audit/auditevent/").content.decode()
    b_event = AuditEvent.objects.filter(tenant=tenant_b).first()
    a_event = AuditEvent.objects.filter(tenant=tenant_a).first()
    assert f"/admin/audit/auditevent/{a_event.pk}/change/" in page
    assert f"/admin/audit/auditevent/{b_event.pk}/change/" not in page
    assert client.post(f"/admin/audit/auditevent/{a_event.pk}/delete/").status_code == 403


def test_superuser_sees_all(admin_client, rows):
    page = admin_client.get("/admin/core/entity/").content.decode()
    assert "Alpha Only Person" in page and "Bravo Only Person" in page


def test_admin_entity_save_goes_through_service_and_is_audited(admin_client, tenant_a):
    response = admin_client.post(
        "/admin/core/entity/add/",
        {
            "tenant": tenant_a.pk,
            "kind": "person",
            "display_name": "Grace Hopper",
            "attributes": '{"city": "NYC"}',
            "sensitivity": 1,
            "labels": "vip, navy",
            "external_id": "",
            "provenance-TOTAL_FORMS": 0,
            "provenance-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    entity = Entity.objects.get(display_name="Grace Hopper")
    assert entity.labels == ["navy", "vip"]
    assert AuditEvent.objects.filter(event_type="entity.created", target_id=str(entity.pk)).exists()
    assert entity.provenance.get().source.name == "Admin entry"


def test_admin_bad_input_is_a_form_error_and_writes_nothing(admin_client, tenant_a):
    before = Entity.objects.count()
    response = admin_client.post(
        "/admin/core/entity/add/",
        {
            "tenant": tenant_a.pk,
            "kind": "spaceship",
            "display_name": "  ",
            "attributes": "[1, 2]",
            "sensitivity": 9,
            "labels": "",
            "provenance-TOTAL_FORMS": 0,
            "provenance-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"kind", "display_name", "sensitivity"} <= set(errors)
    assert Entity.objects.count() == before


def test_posting_to_a_read_only_admin_page_is_refused_not_a_500(client, tenant_a, rows):
    from apps.audit.models import AuditSigningKey

    key = AuditSigningKey.objects.get()
    client.force_login(staff_of(tenant_a, "view_auditsigningkey", "view_auditevent"))
    assert client.post(f"/admin/audit/auditsigningkey/{key.pk}/change/", {"key_id": "x"}).status_code == 403
    event = AuditEvent.objects.filter(tenant=tenant_a).first()
    assert client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"event_type": "x"}).status_code == 403
