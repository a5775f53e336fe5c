"""A compliance officer signs in to the admin in a real browser and finds their tenant's entities."""

import pytest
from django.contrib.auth.models import Permission

from apps.audit.models import AuditEvent
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_login_in_a_real_browser(live_server, page, screenshot):
    tenant = factories.tenant("north", name="North Bank")
    officer = factories.user(
        tenant=tenant, username="officer", password="a long test password", role="compliance", staff=True
    )
    officer.user_permissions.set(Permission.objects.filter(codename__in=["view_entity", "view_auditevent"]))
    factories.entity(tenant=tenant, name="Visible Person")
    factories.entity(tenant=factories.tenant("south"), name="Other Tenant Person")

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "officer")
    page.fill("#id_password", "wrong password")
    page.click("input[type=submit]")
    assert "Please enter the correct username and password" in page.content()

    page.fill("#id_username", "officer")
    page.fill("#id_password", "a long test password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert "IntelGraph administration" in page.inner_text("#site-name")

    screenshot("admin-index")
    page.click("a[href='/admin/core/entity/']")
    page.wait_for_selector("#result_list")
    table = page.inner_text("#result_list")
    screenshot("admin-entities")
    assert "Visible Person" in table
    assert "Other Tenant Person" not in table

    events = list(AuditEvent.objects.order_by("seq").values_list("event_type", flat=True))
    assert events[-2:] == ["auth.login_failed", "auth.login"]
