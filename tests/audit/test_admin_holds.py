"""Legal holds and retention overrides in the admin, as compliance staff use them (issue 13, items 4 and 5)."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.audit.models import AuditEvent, AuditRetentionOverride, LegalHold
from apps.core.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


def staff(tenant, role):
    client = Client()
    client.force_login(factories.user(tenant=tenant, role=role, staff=True))
    return client


@pytest.fixture
def officer(tenant_a):
    return staff(tenant_a, Role.COMPLIANCE)


def test_an_officer_places_and_lifts_a_hold_in_the_admin(officer, tenant_a):
    response = officer.post(
        "/admin/audit/legalhold/add/",
        {"tenant": tenant_a.pk, "target_type": "core.entity", "target_id": "", "reason": "case 2026-311", "_save": "1"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    hold = LegalHold.objects.get()
    assert hold.tenant == tenant_a and hold.placed_by.username.startswith("user")
    assert AuditEvent.objects.filter(event_type="audit.hold_placed", target_id=str(hold.pk)).exists()
    assert AuditEvent.objects.filter(event_type="admin.created", target_id=str(hold.pk)).exists()
    page = officer.get(f"/admin/audit/legalhold/{hold.pk}/change/")
    assert b"Lift hold" in page.content and b'name="_save"' not in page.content  # never edited, only lifted
    lifted = officer.post(f"/admin/audit/legalhold/{hold.pk}/lift/", {"reason": "case closed"}, follow=True)
    assert b"lifted" in lifted.content
    hold.refresh_from_db()
    assert hold.lifted_at is not None and hold.lift_reason == "case closed"


def test_bad_hold_input_is_a_form_error_and_places_nothing(officer, tenant_a, tenant_b):
    for data, message in [
        ({"tenant": tenant_a.pk, "reason": ""}, "This field is required"),
        ({"tenant": tenant_b.pk, "reason": "not mine"}, "Select a valid choice"),
        ({"tenant": tenant_a.pk, "reason": "x", "target_id": "7"}, "type too"),
        ({"tenant": tenant_a.pk, "reason": "x", "until_0": "2001-01-01", "until_1": "00:00"}, "in the past"),
    ]:
        response = officer.post("/admin/audit/legalhold/add/", {**data, "_save": "1"})
        assert response.status_code == 200 and message in response.content.decode(), data
    assert not LegalHold.objects.exists()


def test_an_analyst_cannot_lift_a_hold(tenant_a):
    hold = factories.legal_hold(tenant=tenant_a)
    analyst = staff(tenant_a, Role.ANALYST)
    response = analyst.post(f"/admin/audit/legalhold/{hold.pk}/lift/", {"reason": "tidy up"})
    assert response.status_code == 403
    hold.refresh_from_db()
    assert hold.lifted_at is None


def test_a_reviewer_with_the_page_open_is_refused_with_a_message(tenant_a):
    """Model permissions open the page (a reviewer has none); the policy decides per tenant: an admin of another
    tenant who is only a reader here gets the page through a grant of view_legalhold and is still refused."""
    hold = factories.legal_hold(tenant=tenant_a)
    reader = factories.user(tenant=tenant_a, role=Role.READER, staff=True)
    from django.contrib.auth.models import Permission

    reader.user_permissions.add(*Permission.objects.filter(codename__in=["view_legalhold"]))
    client = Client()
    client.force_login(reader)
    response = client.post(f"/admin/audit/legalhold/{hold.pk}/lift/", {"reason": "tidy up"}, follow=True)
    assert "needs the compliance role" in response.content.decode()
    hold.refresh_from_db()
    assert hold.lifted_at is None
    assert AuditEvent.objects.filter(event_type="access.denied", payload__action="hold-lift").exists()


def test_a_retention_override_may_only_lengthen(officer, tenant_a):
    shorter = officer.post(
        "/admin/audit/auditretentionoverride/add/",
        {
            "tenant": tenant_a.pk,
            "event_type": "er.merged",
            "retention": "standard-365d",
            "reason": "cost",
            "_save": "1",
        },
    )
    assert shorter.status_code == 200 and "may only lengthen" in shorter.content.decode()
    longer = officer.post(
        "/admin/audit/auditretentionoverride/add/",
        {
            "tenant": tenant_a.pk,
            "event_type": "search.query",
            "retention": "long-1825d",
            "reason": "DORA",
            "_save": "1",
        },
    )
    assert longer.status_code == 302
    override = AuditRetentionOverride.objects.get()
    assert AuditEvent.objects.filter(event_type="audit.retention_changed", target_id=str(override.pk)).exists()
