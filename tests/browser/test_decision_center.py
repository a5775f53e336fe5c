"""A reviewer in Chromium: the decision center queue, a pair side by side, approve under a declared purpose,
then the merge's dry-run rollback and the rollback itself."""

import pytest

from apps.core.choices import Role, Sensitivity
from apps.core.models import Entity
from apps.er.models import CandidatePair, Merge
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a long test password"


def test_a_reviewer_approves_then_rolls_back(live_server, page, screenshot, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tenant = factories.tenant("north")
    factories.user(tenant=tenant, username="rosa", password=PASSWORD, role=Role.REVIEWER, clearance=Sensitivity.SECRET)
    a = factories.entity(tenant=tenant, name="Ada Lovelace", attributes={"birth_date": "1815-12-10", "city": "London"})
    b = factories.entity(tenant=tenant, name="Ada King", attributes={"birth_date": "1815-12-10", "city": "Londn"})
    first, second = sorted([a, b], key=lambda e: str(e.pk))
    pair = CandidatePair.objects.create(
        tenant=tenant, entity_a=first, entity_b=second, score=0.93, model_sha="e" * 64,
        explanation=[["prior", "intercept", -3.0], ["birth_date", "exact", 5.0], ["city", "similar", 1.2]],
    )  # fmt: skip
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
    first, second = sorted([a, b], key=lambda e: str(e.pk))
    pair = CandidatePair.objects.create(tenant=tenant, entity_a=first, entity_b=second, score=0.88)
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
    pages["tom"].goto(f"{asgi_server.url}/admin/er/candidatepair/{pair.pk}/change/")  # opening it claims it
    pages["rosa"].wait_for_function(
        f"document.querySelector('.er-claim[data-pair=\"{pair.pk}\"]').textContent === 'tom'"
    )
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages["rosa"].screenshot(path=str(SCREENSHOTS / "er-queue-live-claim.png"))
    for page in pages.values():
        page.context.close()
