"""A reviewer in Chromium: the decision center queue, a pair side by side, approve under a declared purpose,
then the merge's dry-run rollback and the rollback itself."""

import pytest

from apps.core.choices import Role, Sensitivity
from apps.core.models import Entity
from apps.er.models import Merge
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a long test password"


def test_a_reviewer_approves_then_rolls_back(live_server, page, screenshot, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tenant = factories.tenant("north")
    factories.user(tenant=tenant, username="rosa", password=PASSWORD, role=Role.REVIEWER, clearance=Sensitivity.SECRET)
    a = factories.entity(tenant=tenant, name="Ada Lovelace", attributes={"birth_date": "1815-12-10", "city": "London"})
    b = factories.entity(tenant=tenant, name="Ada King", attributes={"birth_date": "1815-12-10", "city": "Londn"})
    pair = factories.candidate_pair(
        tenant=tenant,
        a=a,
        b=b,
        score=0.93,
        model_sha="e" * 64,
        explanation=[["prior", "intercept", -3.0], ["birth_date", "exact", 5.0], ["city", "similar", 1.2]],
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/er/candidatepair/")
    page.fill("#id_username", "rosa")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    page.locator("#result_list tbody tr th a").first.click()
    page.wait_for_selector("#er-side-by-side")
    assert page.locator("#er-side-by-side tr.differs[data-name=city]").count() == 1
    assert page.locator("#er-waterfall tr").count() == 3
    screenshot("er-decide")
    page.select_option("#id_ig_purpose", "investigation")
    page.wait_for_selector("#er-decide")
    page.fill("#id_reason", "same birth date; city misspelt")
    page.click("button[value=approve]")
    page.wait_for_selector(".messagelist")
    assert "Merged into" in page.inner_text(".messagelist")
    merge = Merge.objects.get(pair=pair)
    page.goto(f"{live_server.url}/admin/er/merge/{merge.pk}/change/")
    page.click("#er-rollback-link")
    page.wait_for_selector("#er-rollback-diff")
    assert "undo 1 merge(s)" in page.inner_text("#content-main")
    screenshot("er-rollback-dry-run")
    page.fill("#id_reason", "approved too fast")
    page.click("#er-rollback-form input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "Rolled back" in page.inner_text(".messagelist")
    assert not Entity.objects.filter(pk=merge.canonical_id).exists()
    assert Entity.objects.get(pk=a.pk).merged_into_id is None


def test_a_claim_shows_live_on_another_reviewers_queue(asgi_server, browser):
    tenant = factories.tenant("south")
    for name in ("rosa", "tom"):
        factories.user(
            tenant=tenant, username=name, password=PASSWORD, role=Role.REVIEWER, clearance=Sensitivity.SECRET
        )
    a = factories.entity(tenant=tenant, name="Grace Hopper")
    b = factories.entity(tenant=tenant, name="Grace B. Hopper")
    pair = factories.candidate_pair(tenant=tenant, a=a, b=b, score=0.88)
    pages = {}
    for name in ("rosa", "tom"):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(f"{asgi_server.url}/admin/login/?next=/admin/er/candidatepair/")
        page.fill("#id_username", name)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#result_list")
        pages[name] = page
    pages["rosa"].wait_for_function("document.body.dataset.erLive === 'live'")
    # Opening it claims it: the page POSTs the claim (its GET writes nothing) and shows who holds it.
    pages["tom"].goto(f"{asgi_server.url}/admin/er/candidatepair/{pair.pk}/change/")
    pages["tom"].wait_for_selector("#er-claim-line:not([hidden])")
    assert pages["tom"].inner_text("#er-claim") == "tom"
    pages["rosa"].wait_for_function(
        f"document.querySelector('.er-claim[data-pair=\"{pair.pk}\"]').textContent === 'tom'"
    )
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages["rosa"].screenshot(path=str(SCREENSHOTS / "er-queue-live-claim.png"))
    for page in pages.values():
        page.context.close()


def _login(page, url, username, next_path):
    page.goto(f"{url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_enter_in_the_reason_field_decides_nothing(live_server, page, settings, tmp_path):
    """Security issue 11: Enter in the reason field approved and merged a pair whose reason said otherwise."""
    from apps.audit.models import AuditEvent
    from apps.er.choices import PairStatus

    settings.MEDIA_ROOT = tmp_path
    tenant = factories.tenant("east")
    factories.user(tenant=tenant, username="rosa", password=PASSWORD, role=Role.REVIEWER, clearance=Sensitivity.SECRET)
    a = factories.entity(tenant=tenant, name="Ada Lovelace", attributes={"birth_date": "1815-12-10"})
    b = factories.entity(tenant=tenant, name="Ada King", attributes={"birth_date": "1815-12-10"})
    pair = factories.candidate_pair(tenant=tenant, a=a, b=b, score=0.93, model_sha="e" * 64)
    _login(page, live_server.url, "rosa", f"/admin/er/candidatepair/{pair.pk}/change/")
    page.wait_for_selector("#er-decide")
    page.select_option("#id_ig_purpose", "investigation")  # approving would be allowed: only Enter stands between
    page.wait_for_selector("#er-decide")
    events = AuditEvent.objects.filter(event_type__startswith="er.pair_").count()
    page.click("#id_reason")
    page.keyboard.type("not the same person, different fathers")  # 'a', 'r' and 'd' typed here decide nothing
    page.keyboard.press("Enter")
    page.wait_for_timeout(1500)  # a submission would have navigated by now
    assert page.input_value("#id_reason") == "not the same person, different fathers"
    pair.refresh_from_db()
    assert pair.status == PairStatus.PENDING and not Merge.objects.exists()
    assert AuditEvent.objects.filter(event_type__startswith="er.pair_").count() == events
    assert not AuditEvent.objects.filter(event_type="er.merged").exists()
    # The button still decides: here, a rejection with that reason.
    page.click("button[name=decision][value=reject]")
    page.wait_for_selector(".messagelist")
    pair.refresh_from_db()
    assert pair.status == PairStatus.REJECTED and pair.reason == "not the same person, different fathers"


def test_the_what_if_preview_saves_nothing(live_server, page, screenshot):
    """Security issue 11: Preview sat in a form inside the settings form, so it saved and audited the thresholds."""
    from apps.audit.models import AuditEvent
    from apps.er import services as er
    from apps.er.models import TenantERSettings

    tenant = factories.tenant("west")
    factories.user(tenant=tenant, username="ines", password=PASSWORD, role=Role.ADMIN)
    row = er.thresholds_set(tenant=tenant, auto_merge=0.97, review=0.6)
    history, stamp = row.history.count(), TenantERSettings.objects.get(pk=row.pk).updated_at
    events = AuditEvent.objects.filter(event_type="er.thresholds_changed").count()
    _login(page, live_server.url, "ines", f"/admin/er/tenantersettings/{row.pk}/change/")
    page.wait_for_selector("#er-what-if-box")
    page.fill("input[name=review]", "0.3")
    page.fill("input[name=auto]", "0.8")
    page.click("button[form=er-what-if]")
    page.wait_for_selector("#er-what-if-result")
    assert "Nothing has changed yet" in page.inner_text("#er-what-if-result")
    screenshot("er-what-if-preview")
    fresh = TenantERSettings.objects.get(pk=row.pk)
    assert (fresh.auto_merge_threshold, fresh.review_threshold, fresh.updated_at) == (0.97, 0.6, stamp)
    assert fresh.history.count() == history
    assert AuditEvent.objects.filter(event_type="er.thresholds_changed").count() == events
