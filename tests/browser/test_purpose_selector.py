"""An analyst declares a purpose in the admin header; purpose-bound fields follow."""

import pytest

from apps.audit.models import AuditEvent
from apps.core.choices import Sensitivity
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_declaring_a_purpose_reveals_purpose_bound_fields(live_server, page, screenshot):
    tenant = factories.tenant("north")
    factories.user(
        tenant=tenant, username="sam", password="a long test password", role="analyst", clearance=Sensitivity.SECRET
    )
    person = factories.entity(
        tenant=tenant, name="Ada Lovelace", attributes={"given_name": "Ada", "national_id": "NID-424242"}
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/core/entity/{person.pk}/change/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "a long test password")
    page.click("input[type=submit]")
    page.wait_for_selector("#purpose-selector")
    # Without a purpose, the national id is withheld and the page says why
    body = page.inner_text("#content")
    assert "NID-424242" not in page.content()
    assert "national_id needs a declared investigative purpose" in body
    screenshot("purpose-none")
    # With "investigation" declared, it is shown
    page.select_option("#id_ig_purpose", "investigation")
    page.wait_for_load_state("load")
    page.wait_for_selector("#purpose-selector")
    assert page.input_value("#id_ig_purpose") == "investigation"
    assert "NID-424242" in page.content()
    screenshot("purpose-investigation")
    assert AuditEvent.objects.filter(event_type="access.purpose_declared", payload__purpose="investigation").exists()
