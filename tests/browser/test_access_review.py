"""A quarterly access review in Chromium, as compliance staff run it: launch, decide every item (a second reviewer
takes the officer's own), see the revoked token refused by the API, close, export, and verify the export with
the auditor's standalone script."""

import urllib.error
import urllib.request

import pytest
from django.utils import timezone

from apps.audit.sealing import seal_pending
from apps.compliance.models import AccessReview
from apps.core.choices import Role
from apps.core.models import ApiToken, Membership
from tests import factories
from tests.compliance.auditing import auditor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a long test password"


def _login(page, url: str, username: str, next_path: str) -> None:
    page.goto(f"{url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def _api_status(url: str, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        f"{url}/graphql",
        data=b'{"query": "{ __typename }"}',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _decide_all(page, *, reason: str, revoke: set[str]) -> int:
    """Decide every pending item the page lets this reviewer decide; returns how many."""
    done = 0
    while True:
        rows = page.locator("#ar-items tbody tr:has(form.ar-decide)")
        if rows.count() == 0:
            return done
        row = rows.first
        label = f"{row.get_attribute('data-kind')}:{row.get_attribute('data-holder')}"
        row.locator("input[name=reason]").fill(reason)
        button = "revoked" if label in revoke else "certified"
        row.locator(f"button[value={button}]").click()
        page.wait_for_selector(".messagelist")
        assert "Not decided" not in page.inner_text(".messagelist"), page.inner_text(".messagelist")
        done += 1


def test_compliance_staff_run_a_quarterly_review_end_to_end(live_server, page, browser, screenshot, settings, tmp_path):
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit" / "checkpoint.json"
    settings.AUDIT_VERIFIED_FILE = tmp_path / "audit" / "verified.json"
    settings.ACCESS_REVIEW_EXPORT_WAIT = 0
    tenant = factories.tenant("acme")
    officer = factories.user(tenant=tenant, username="cora", password=PASSWORD, role=Role.COMPLIANCE, staff=True)
    second = factories.user(tenant=tenant, username="adam", password=PASSWORD, role=Role.ADMIN, staff=True)
    analyst = factories.user(tenant=tenant, username="ana", role=Role.ANALYST)
    factories.user(tenant=tenant, username="quinn", role=Role.READER)  # never signed in
    for user in (officer, second, analyst):
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
    _, raw = factories.api_token(user=analyst, name="case sync")
    assert _api_status(live_server.url, raw) != 401  # the token works

    # Launch: the add page, this quarter by default
    _login(page, live_server.url, "cora", "/admin/compliance/accessreview/add/")
    page.select_option("#id_tenant", label="acme")
    page.click("input[name=_save]")
    page.wait_for_selector("#ar-items")
    assert "Launched" in page.inner_text(".messagelist")
    review = AccessReview.objects.get(tenant=tenant)
    total = review.items.count()
    assert "0 of" in page.inner_text("#ar-progress") and page.locator(".ar-finding").count() >= 1
    screenshot("access-review-launched")

    # Decide: revoke the analyst's token and the member who never signed in; certify the rest
    decided = _decide_all(page, reason="checked against the staff list", revoke={"token:ana", "membership:quinn"})
    assert decided == total - 2  # her own membership and staff flag are another reviewer's
    page.goto(f"{live_server.url}/admin/compliance/accessreview/{review.pk}/change/?show=pending")
    assert "your own access" in page.inner_text("#ar-items")
    assert page.locator("#ar-close").is_disabled()
    screenshot("access-review-own-item")
    # The token stops working at once; the membership is deactivated
    assert _api_status(live_server.url, raw) == 401
    assert ApiToken.objects.get(name="case sync").revoked_at is not None
    assert not Membership.objects.get(user__username="quinn", tenant=tenant).is_active

    # A second reviewer decides the officer's own access
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    other = context.new_page()
    _login(other, live_server.url, "adam", f"/admin/compliance/accessreview/{review.pk}/change/")
    other.wait_for_selector("#ar-items")
    assert _decide_all(other, reason="compliance officer, as staffed", revoke=set()) == 2
    context.close()

    # Close, then export
    page.goto(f"{live_server.url}/admin/compliance/accessreview/{review.pk}/change/?show=all")
    assert f"{total} of {total} decided" in page.inner_text("#ar-progress")
    page.click("#ar-close")
    page.wait_for_selector("#ar-export")
    assert "closed" in page.inner_text(".messagelist")
    screenshot("access-review-closed")
    seal_pending()
    with page.expect_download() as download:
        page.click("#ar-export")
    bundle = tmp_path / download.value.suggested_filename
    download.value.save_as(bundle)
    assert bundle.name == f"access-review-acme-{review.period}.zip"

    # The auditor checks it offline, with only the public key
    result = auditor(tmp_path, bundle)
    assert result.returncode == 0, result.stderr
    assert "OK: access-review evidence" in result.stdout and "GAP" not in result.stdout
