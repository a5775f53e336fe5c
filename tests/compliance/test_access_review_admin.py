"""The access review pages in the admin: launching with clear form errors, deciding with clear messages, tenant
scoping (a tenant's reviewers never reach another tenant's review), and the page's own-access rule."""

import pytest
from django.test import Client

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
    form = {"period": "2026-Q4", "due_at_0": "2099-01-01", "due_at_1": "12:00:00", "_save": "Save", **data}
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
    past = _launch(client, tenant=tenant_a.pk, period="2027-Q1", due_at_0="2001-01-01")
    assert past.status_code == 200 and "The due date is in the past." in past.content.decode()
    other = _launch(client, tenant=tenant_b.pk, period="2027-Q1")  # not her tenant: not even a choice
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
