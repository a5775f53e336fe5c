"""The access review pages in the admin: launching with clear form errors, deciding with clear messages, tenant
scoping (a tenant's reviewers never reach another tenant's review), and the page's own-access rule."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.compliance import services as compliance
from apps.compliance.models import AccessReview
from apps.core.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(tenant_a):
    return factories.user(tenant=tenant_a, username="cora", role=Role.COMPLIANCE, staff=True)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _launch(client, **data):
    due = (timezone.now() + timedelta(days=20)).strftime("%Y-%m-%d")
    form = {"period": "2026-Q4", "due_at_0": due, "due_at_1": "12:00:00", "_save": "Save", **data}
    return client.post("/admin/compliance/accessreview/add/", form)


def test_launching_in_the_admin_opens_the_review_page(officer, tenant_a):
    client = _client(officer)
    response = _launch(client, tenant=tenant_a.pk)
    review = AccessReview.objects.get(tenant=tenant_a)
    assert response.status_code == 302 and response["Location"].endswith(f"/{review.pk}/change/")
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "your own access: another reviewer decides it" in html  # her membership and staff flag
    assert f"0 of {review.items.count()} decided" in html


def test_launch_form_errors_say_what_is_wrong_and_change_nothing(officer, tenant_a, tenant_b):
    client = _client(officer)
    assert _launch(client, tenant=tenant_a.pk).status_code == 302
    again = _launch(client, tenant=tenant_a.pk)
    said = again.content.decode()
    assert again.status_code == 200 and said.count("a quarter has one review") == 1  # said once
    bad = _launch(client, tenant=tenant_a.pk, period="Q4-2026")
    assert bad.status_code == 200 and "is not a quarter: give one such as" in bad.content.decode()
    past = _launch(client, tenant=tenant_a.pk, period="2026-Q3", due_at_0="2001-01-01")
    assert past.status_code == 200 and "The due date is in the past." in past.content.decode()
    other = _launch(client, tenant=tenant_b.pk, period="2026-Q3")  # not her tenant: not even a choice
    assert other.status_code == 200 and "Select a valid choice" in other.content.decode()
    assert AccessReview.objects.count() == 1


def test_decisions_on_the_page_and_their_errors_as_messages(officer, tenant_a):
    other = factories.user(tenant=tenant_a, username="ana", role=Role.ANALYST)
    review = compliance.access_review_launch(tenant=tenant_a, actor=officer, period="2026-Q4")
    client = _client(officer)
    item = review.items.get(kind="membership", user=other)
    url = f"/admin/compliance/accessreview/{review.pk}/items/{item.pk}/decide/"
    response = client.post(url, {"decision": "certified", "reason": ""}, follow=True)
    assert "Not decided: a decision needs a reason" in response.content.decode()
    response = client.post(url, {"decision": "modified", "reason": "x", "role": "admin", "clearance": "2"}, follow=True)
    assert "only takes access away" in response.content.decode()
    response = client.post(url, {"decision": "certified", "reason": "as staffed"}, follow=True)
    assert response.status_code == 200 and "certified" in response.content.decode()
    item.refresh_from_db()
    assert (item.decision, item.reason, item.decided_by) == ("certified", "as staffed", officer)
    own = review.items.get(kind="membership", user=officer)
    response = client.post(
        f"/admin/compliance/accessreview/{review.pk}/items/{own.pk}/decide/",
        {"decision": "certified", "reason": "me"},
        follow=True,
    )
    assert "nobody decides their own access" in response.content.decode()
    response = client.post(f"/admin/compliance/accessreview/{review.pk}/close/", follow=True)
    assert "Not closed:" in response.content.decode() and "still undecided" in response.content.decode()
    assert client.get(f"/admin/compliance/accessreview/{review.pk}/export/", follow=True).status_code == 200


def test_another_tenants_review_is_out_of_reach(officer, tenant_a, tenant_b):
    factories.user(tenant=tenant_b, username="bravo-member")
    theirs = compliance.access_review_launch(tenant=tenant_b, period="2026-Q4")
    item = theirs.items.first()
    client = _client(officer)
    assert client.get(f"/admin/compliance/accessreview/{theirs.pk}/change/").status_code == 302
    assert str(theirs) not in client.get("/admin/compliance/accessreview/").content.decode()
    response = client.post(
        f"/admin/compliance/accessreview/{theirs.pk}/items/{item.pk}/decide/", {"decision": "revoked", "reason": "x"}
    )
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.decision == "pending"
    assert client.get(f"/admin/compliance/accessreview/{theirs.pk}/export/").status_code == 403


def test_a_reader_has_no_access_review_pages(tenant_a):
    reader = factories.user(tenant=tenant_a, role=Role.READER, staff=True)
    response = _client(reader).get("/admin/compliance/accessreview/")
    assert response.status_code == 403


def test_malformed_ids_future_quarters_and_far_due_dates_are_clear_answers(officer, tenant_a):
    client = _client(officer)
    assert client.get("/admin/compliance/accessreview/abc/change/").status_code == 302
    assert client.get("/admin/compliance/evidencebundle/abc/change/").status_code == 302
    for period, message in (("9999-Q4", "is not a quarter this product"), ("2999-Q1", "has not started")):
        response = _launch(client, tenant=tenant_a.pk, period=period)
        assert response.status_code == 200 and message in response.content.decode(), period
    far = (timezone.now() + timedelta(days=400)).strftime("%Y-%m-%d")
    response = _launch(client, tenant=tenant_a.pk, due_at_0=far)
    assert response.status_code == 200 and "more than 92 days away" in response.content.decode()
    bundle = client.post("/admin/compliance/evidencebundle/add/", {"tenant": tenant_a.pk, "period": "0000-Q1"})
    assert bundle.status_code == 200 and "is not a quarter this product" in bundle.content.decode()
    empty = client.post("/admin/compliance/evidencebundle/add/", {"tenant": tenant_a.pk, "period": "2021-Q2"})
    assert empty.status_code == 200 and "holds no audit event of alpha" in empty.content.decode()
    assert AccessReview.objects.count() == 0


def test_membership_of_a_tenant_is_not_the_compliance_role_there(tenant_a, tenant_b):
    """Django's groups are global: an administrator of alpha who is only a reader of bravo reaches none of bravo's
    compliance pages."""
    user = factories.user(tenant=tenant_a, username="mixed", role=Role.ADMIN, staff=True)
    factories.membership(user=user, tenant=tenant_b, role=Role.READER)
    factories.user(tenant=tenant_b, username="bravo-member")
    theirs = compliance.access_review_launch(tenant=tenant_b, period="2026-Q4")
    client = _client(user)
    assert client.get(f"/admin/compliance/accessreview/{theirs.pk}/change/").status_code == 302
    assert "bravo" not in client.get("/admin/compliance/accessreview/").content.decode()
    dashboard = client.get("/admin/compliance/control/?tenant=bravo").content.decode()
    assert 'value="alpha" selected' in dashboard and 'value="bravo"' not in dashboard


def test_a_reviewer_does_not_take_access_from_someone_of_a_higher_role(officer, tenant_a):
    boss = factories.user(tenant=tenant_a, username="boss", role=Role.ADMIN)
    review = compliance.access_review_launch(tenant=tenant_a, actor=officer, period="2026-Q4")
    item = review.items.get(kind="membership", user=boss)
    with pytest.raises(compliance.AccessReviewError, match="above your role"):
        compliance.access_review_decide(item=item, actor=officer, decision="revoked", reason="x")
    with pytest.raises(compliance.AccessReviewError, match="above your role"):
        compliance.access_review_decide(item=item, actor=officer, decision="modified", reason="x", role=Role.READER)
    compliance.access_review_decide(item=item, actor=officer, decision="certified", reason="as staffed")


def test_another_tenants_evidence_bundle_is_out_of_reach(officer, tenant_a, tenant_b):
    theirs = factories.evidence_bundle(tenant=tenant_b)
    client = _client(officer)
    assert client.get(f"/admin/compliance/evidencebundle/{theirs.pk}/change/").status_code == 302
    assert client.get(f"/admin/compliance/evidencebundle/{theirs.pk}/progress/").status_code == 403
    assert client.get(f"/admin/compliance/evidencebundle/{theirs.pk}/download/").status_code == 403
    assert "bravo" not in client.get("/admin/compliance/evidencebundle/").content.decode()
