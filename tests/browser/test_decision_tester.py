"""An auditor tests an access decision in the admin, in a real browser."""

import pytest
from django.contrib.auth.models import Permission

from apps.core.choices import Sensitivity
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_decision_tester_explains_redactions_and_masking(live_server, page, screenshot):
    tenant = factories.tenant("north", name="North Bank")
    factories.user(
        tenant=tenant,
        username="auditor",
        password="a long test password",
        role="compliance",
        clearance=Sensitivity.TOP_SECRET,
        staff=True,
    )
    from apps.core.models import User

    auditor = User.objects.get(username="auditor")
    auditor.user_permissions.set(Permission.objects.filter(codename__in=["view_policybundleversion", "view_entity"]))
    factories.user(tenant=tenant, username="junior", role="reader", clearance=Sensitivity.INTERNAL)
    person = factories.entity(
        tenant=tenant,
        name="Ada Lovelace",
        sensitivity=Sensitivity.INTERNAL,
        attributes={"given_name": "Ada", "birth_date": "1815-12-10", "national_id": "123-45-6789"},
    )
    secret = factories.entity(tenant=tenant, name="Quiet Account", kind="account", sensitivity=Sensitivity.CONFIDENTIAL)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/access/policybundleversion/")
    page.fill("#id_username", "auditor")
    page.fill("#id_password", "a long test password")
    page.click("input[type=submit]")
    page.click("text=Test a decision")
    page.wait_for_selector("#decision-tester")

    page.select_option("#id_user", label="junior")
    page.fill("#id_entity", str(person.pk))
    page.select_option("#id_action", "read")
    page.click("input[type=submit]")
    page.wait_for_selector("#decision-fields")
    screenshot("decision-tester-fields")
    assert page.inner_text("#decision-visibility") == "visible"
    fields = page.inner_text("#decision-fields")
    assert "birth_date\tredacted (FIELD_ROLE)\tabac.field_role\tbirth_date needs a higher role" in fields
    assert "national_id\tredacted (FIELD_CLEARANCE)" in fields
    assert "given_name\tvisible" in fields

    page.fill("#id_entity", str(secret.pk))
    page.click("input[type=submit]")
    page.wait_for_selector("#decision-result")
    assert page.inner_text("#decision-visibility") == "masked"
    assert "clearance confidential or higher" in page.inner_text("#decision-explanation")
    screenshot("decision-tester-masked")

    page.fill("#id_entity", "not-a-uuid")
    page.click("input[type=submit]")
    assert "Enter an entity id" in page.inner_text("#decision-tester")
