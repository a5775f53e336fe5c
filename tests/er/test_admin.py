"""The decision center and merge rollback through the admin, as a reviewer uses them."""

import pytest

from apps.access.services import SESSION_PURPOSE_KEY, subject_for
from apps.core.choices import Role, Sensitivity
from apps.core.models import Entity
from apps.er import services as er
from apps.er.choices import PairStatus
from apps.er.models import Merge, ModelArtifact, NeverMerge
from tests import factories

pytestmark = pytest.mark.django_db
PASSWORD = "a long test password"


@pytest.fixture
def desk(client, tenant_a):
    reviewer = factories.user(tenant=tenant_a, role=Role.REVIEWER, clearance=Sensitivity.TOP_SECRET, password=PASSWORD)
    a = factories.entity(tenant=tenant_a, name="Ada Lovelace", attributes={"birth_date": "1815-12-10", "tax_id": "T1"})
    b = factories.entity(tenant=tenant_a, name="Ada King", attributes={"birth_date": "1815-12-10", "tax_id": "T2"})
    pair = factories.candidate_pair(
        tenant=tenant_a,
        a=a,
        b=b,
        score=0.91,
        model_sha="c" * 64,
        explanation=[["prior", "intercept", -4.0], ["birth_date", "exact", 5.5], ["given_name", "exact", 2.0]],
    )
    client.force_login(reviewer)
    return {"client": client, "pair": pair, "reviewer": reviewer, "tenant": tenant_a}


def declare(client, purpose="investigation"):
    session = client.session
    session[SESSION_PURPOSE_KEY] = purpose
    session.save()


def test_the_queue_and_the_side_by_side_page(desk):
    client, pair = desk["client"], desk["pair"]
    listing = client.get("/admin/er/candidatepair/")
    assert listing.status_code == 200 and "Ada Lovelace" in listing.content.decode()
    page = client.get(f"/admin/er/candidatepair/{pair.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'class="differs" data-name="tax_id"' in html  # T1 vs T2 highlighted
    assert 'data-name="birth_date"' in html and "er-waterfall" in html and "c" * 64 in html
    assert f'data-claim-url="/admin/er/candidatepair/{pair.pk}/claim/"' in html  # the page claims it with a POST


def test_opening_the_decide_page_writes_nothing(desk):
    """Given a pending pair, when a reviewer GETs its decide page, then nothing is written: no claim, no audit
    event, no settings row, nothing announced to other reviewers."""
    from apps.audit.models import AuditEvent
    from apps.er.models import TenantERSettings

    client, pair = desk["client"], desk["pair"]
    # The first policy decision in a database records the bundle in force (once): not the page's doing.
    recorded = AuditEvent.objects.exclude(event_type="policy.bundle_changed")
    events, settings_rows = recorded.count(), TenantERSettings.objects.count()
    page = client.get(f"/admin/er/candidatepair/{pair.pk}/change/")
    assert page.status_code == 200
    pair.refresh_from_db()
    assert pair.claimed_by is None and pair.claimed_at is None
    assert recorded.count() == events and TenantERSettings.objects.count() == settings_rows


def test_the_claim_is_a_post(desk):
    """Given the decide page's claim URL, a GET of it is refused and claims nothing; a POST claims the pair."""
    client, pair = desk["client"], desk["pair"]
    url = f"/admin/er/candidatepair/{pair.pk}/claim/"
    assert client.get(url).status_code == 405
    pair.refresh_from_db()
    assert pair.claimed_by is None
    response = client.post(url)
    assert response.status_code == 200 and response.json() == {"claimed_by": desk["reviewer"].get_username()}
    pair.refresh_from_db()
    assert pair.claimed_by == desk["reviewer"] and pair.claimed_at is not None


def test_a_pair_another_reviewer_holds_is_not_claimed(desk):
    client, pair = desk["client"], desk["pair"]
    other = factories.user(tenant=desk["tenant"], role=Role.REVIEWER, clearance=Sensitivity.TOP_SECRET)
    er.pair_claim(subject=subject_for(user=other), pair=pair)
    response = client.post(f"/admin/er/candidatepair/{pair.pk}/claim/")
    assert response.status_code == 409 and "is working on this pair" in response.json()["error"]
    pair.refresh_from_db()
    assert pair.claimed_by == other


def test_the_claim_needs_a_csrf_token(desk):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(desk["reviewer"])
    assert client.post(f"/admin/er/candidatepair/{desk['pair'].pk}/claim/").status_code == 403
    desk["pair"].refresh_from_db()
    assert desk["pair"].claimed_by is None


def test_approving_needs_a_purpose_then_merges(desk):
    client, pair = desk["client"], desk["pair"]
    response = client.post(f"/admin/er/candidatepair/{pair.pk}/change/", {"decision": "approve", "reason": "same"})
    assert response.status_code == 200 and "needs a declared purpose" in response.content.decode()
    assert not Merge.objects.exists()
    declare(client)
    response = client.post(f"/admin/er/candidatepair/{pair.pk}/change/", {"decision": "approve", "reason": "same"})
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == PairStatus.APPROVED and Merge.objects.count() == 1


def test_rejecting_needs_a_reason_and_lasts(desk):
    client, pair = desk["client"], desk["pair"]
    response = client.post(f"/admin/er/candidatepair/{pair.pk}/change/", {"decision": "reject", "reason": ""})
    assert "Say why" in response.content.decode() and not NeverMerge.objects.exists()
    client.post(f"/admin/er/candidatepair/{pair.pk}/change/", {"decision": "reject", "reason": "different tax ids"})
    assert NeverMerge.objects.get().reason == "different tax ids"


def test_rollback_shows_a_dry_run_then_restores(desk):
    client, pair = desk["client"], desk["pair"]
    declare(client)
    client.post(f"/admin/er/candidatepair/{pair.pk}/change/", {"decision": "approve", "reason": "same"})
    merge = Merge.objects.get()
    dry = client.get(f"/admin/er/merge/{merge.pk}/rollback/")
    assert dry.status_code == 200 and "Dry run:" in dry.content.decode() and "undo 1 merge(s)" in dry.content.decode()
    assert Entity.objects.filter(pk=merge.canonical_id).exists()  # nothing changed by looking
    done = client.post(f"/admin/er/merge/{merge.pk}/rollback/", {"reason": "reviewer error"})
    assert done.status_code == 302
    merge.refresh_from_db()
    assert merge.rolled_back_at and not Entity.objects.filter(pk=merge.canonical_id).exists()
    again = client.get(f"/admin/er/merge/{merge.pk}/rollback/", follow=True)
    assert "already rolled back" in again.content.decode()


def test_other_tenants_pairs_are_not_found(desk, tenant_b):
    x = factories.entity(tenant=tenant_b, name="X")
    y = factories.entity(tenant=tenant_b, name="Y")
    theirs = factories.candidate_pair(tenant=tenant_b, a=x, b=y, score=0.9)
    assert desk["client"].get(f"/admin/er/candidatepair/{theirs.pk}/change/").status_code == 404


def test_registry_pages(desk, admin_client):
    artifact = er.model_register(data=b'{"format":"x"}', model_id="fs-test", metadata={"metrics": {"f1": 0.99}})
    listing = admin_client.get("/admin/er/modelartifact/")
    assert listing.status_code == 200 and "fs-test" in listing.content.decode()
    download = admin_client.get(f"/admin/er/modelartifact/{artifact.pk}/download/")
    assert b"".join(download.streaming_content) == b'{"format":"x"}'
    assert ModelArtifact.objects.count() == 1


def test_migrate_gives_the_role_groups_the_er_permissions():
    from django.contrib.auth.models import Group

    reviewer = Group.objects.get(name="role:reviewer")  # made by post_migrate, before any user exists
    codenames = set(reviewer.permissions.values_list("codename", flat=True))
    assert {"change_candidatepair", "change_merge", "view_modelartifact"} <= codenames


def test_threshold_page_previews_thresholds_and_a_model(desk, admin_client):
    settings_row = er.thresholds_set(tenant=desk["tenant"], auto_merge=0.97, review=0.6)
    from apps.er import engine

    artifact = er.model_register(data=engine.default_model_bytes(), model_id="d")
    url = f"/admin/er/tenantersettings/{settings_row.pk}/change/"
    page = admin_client.get(url, {"auto": "0.9", "review": "0.5"}).content.decode()
    assert 'id="er-what-if-result"' in page and "Nothing has changed yet" in page
    page = admin_client.get(url, {"model": artifact.pk}).content.decode()
    assert 'id="er-what-if-model-result"' in page and "Rescoring 1 recorded pairs" in page
