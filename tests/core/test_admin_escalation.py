"""A tenant administrator is not trusted beyond its tenant: the black-box escalation paths of issue 11.

Cast: ``admin_a`` administers tenant A; ``member_a`` belongs to A only; ``shared`` belongs to A and
administers B; ``root`` is a superuser who is also a member of A; ``member_b`` belongs to B only.
Every refusal changes nothing and leaves an ``access.denied`` audit event.
"""

import pytest
from django.contrib.auth import get_user_model

from apps.audit.models import AuditEvent
from apps.core import services
from apps.core.models import ApiToken, Membership
from tests import factories

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"
NEW_PASSWORD = "An0ther-long-password!"


@pytest.fixture
def cast(tenant_a, tenant_b):
    admin_a = factories.user(tenant=tenant_a, role="admin", username="admin-a", password=PASSWORD)
    member_a = factories.user(tenant=tenant_a, role="analyst", username="member-a", password=PASSWORD)
    shared = factories.user(tenant=tenant_b, role="admin", username="shared", password=PASSWORD)
    services.membership_set(user=shared, tenant=tenant_a, role="reader")
    root = factories.user(tenant=tenant_a, role="reader", username="root", password=PASSWORD)
    root.is_superuser = True
    root.save(update_fields=["is_superuser"])
    member_b = factories.user(tenant=tenant_b, role="analyst", username="member-b", password=PASSWORD)
    return {"admin_a": admin_a, "member_a": member_a, "shared": shared, "root": root, "member_b": member_b}


@pytest.fixture
def as_admin_a(client, cast):
    client.force_login(cast["admin_a"])
    return client


def denials(action):
    return AuditEvent.objects.filter(event_type="access.denied", payload__action=action).count()


def profile(user, **changes):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


# --------------------------------------------------------------------------- staff and superuser flags


@pytest.mark.parametrize("flag", ["is_superuser", "is_staff", "groups", "user_permissions"])
def test_tenant_admin_cannot_raise_itself(as_admin_a, cast, flag):
    me = cast["admin_a"]
    before = denials("user-change")
    response = as_admin_a.post(
        f"/admin/core/user/{me.pk}/change/", profile(me, **{flag: "on" if flag.startswith("is_") else "1"})
    )
    assert response.status_code == 403
    me.refresh_from_db()
    assert not me.is_superuser and me.user_permissions.count() == 0
    assert denials("user-change") == before + 1
    # and afterwards it still sees only its own tenant's accounts
    page = as_admin_a.get("/admin/core/user/").content.decode()
    assert "member-b" not in page


def test_superuser_flags_are_not_on_a_tenant_admins_form(as_admin_a, cast):
    page = as_admin_a.get(f"/admin/core/user/{cast['member_a'].pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page and 'name="is_staff"' not in page
    assert 'name="user_permissions"' not in page and 'name="groups"' not in page


def test_tenant_admin_edits_its_members_profile_and_it_is_audited(as_admin_a, cast):
    member = cast["member_a"]
    response = as_admin_a.post(f"/admin/core/user/{member.pk}/change/", profile(member, email="m@alpha.example"))
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.email == "m@alpha.example"
    event = AuditEvent.objects.filter(event_type="user.changed", target_id=str(member.pk)).get()
    assert event.payload["fields"] == ["email"]


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize("whom", ["shared", "root"])
def test_tenant_admin_cannot_set_password_of_shared_member_or_superuser(as_admin_a, cast, whom):
    target = cast[whom]
    before = denials("user-password")
    url = f"/admin/core/user/{target.pk}/password/"
    assert as_admin_a.get(url).status_code == 403
    response = as_admin_a.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.check_password(PASSWORD)
    assert denials("user-password") == before + 2


def test_tenant_admin_cannot_reach_a_user_of_another_tenant(as_admin_a, cast):
    target = cast["member_b"]
    for url in (f"/admin/core/user/{target.pk}/change/", f"/admin/core/user/{target.pk}/password/"):
        response = as_admin_a.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert response.status_code in (302, 404)
    target.refresh_from_db()
    assert target.check_password(PASSWORD)


def test_tenant_admin_sets_its_own_members_password_audited(as_admin_a, cast):
    member = cast["member_a"]
    response = as_admin_a.post(
        f"/admin/core/user/{member.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(event_type="user.password_set", target_id=str(member.pk)).exists()


# --------------------------------------------------------------------------- new accounts


def test_tenant_admin_creates_members_only_in_its_tenants(as_admin_a, cast, tenant_a, tenant_b):
    page = as_admin_a.get("/admin/core/user/add/").content.decode()
    assert f'value="{tenant_a.pk}"' in page and f'value="{tenant_b.pk}"' not in page
    data = {
        "username": "newbie",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "usable_password": "true",
        "role": "reader",
        "clearance": "1",
    }
    refused = as_admin_a.post("/admin/core/user/add/", {**data, "tenant": tenant_b.pk})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not get_user_model().objects.filter(username="newbie").exists()
    created = as_admin_a.post("/admin/core/user/add/", {**data, "tenant": tenant_a.pk})
    assert created.status_code == 302
    newbie = get_user_model().objects.get(username="newbie")
    assert not newbie.is_superuser
    assert list(newbie.memberships.values_list("tenant_id", "role")) == [(tenant_a.pk, "reader")]
    assert AuditEvent.objects.filter(event_type="user.created", target_id=str(newbie.pk)).exists()


# --------------------------------------------------------------------------- API tokens


@pytest.mark.parametrize("whom", ["shared", "root", "member_b"])
def test_tenant_admin_cannot_mint_a_token_for_an_account_it_does_not_manage(as_admin_a, cast, whom):
    target = cast[whom]
    before = denials("token-issue")
    response = as_admin_a.post("/admin/core/apitoken/add/", {"user": target.pk, "name": "mine now"})
    assert response.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.filter(user=target).exists()
    assert denials("token-issue") == before + 1


def test_token_user_autocomplete_lists_only_managed_accounts(as_admin_a, cast):
    found = as_admin_a.get(
        "/admin/autocomplete/", {"app_label": "core", "model_name": "apitoken", "field_name": "user", "term": ""}
    ).json()
    ids = {int(item["id"]) for item in found["results"]}
    assert cast["member_a"].pk in ids and cast["admin_a"].pk in ids
    assert ids.isdisjoint({cast[whom].pk for whom in ("shared", "root", "member_b")})


def test_tenant_admin_mints_a_token_for_its_member(as_admin_a, cast):
    response = as_admin_a.post("/admin/core/apitoken/add/", {"user": cast["member_a"].pk, "name": "ingest"})
    assert response.status_code == 302
    assert ApiToken.objects.filter(user=cast["member_a"]).count() == 1


def test_tenant_admin_cannot_revoke_a_superusers_token(as_admin_a, cast):
    token, _ = services.api_token_issue(user=cast["root"], name="root's")
    before = denials("token-revoke")
    as_admin_a.post("/admin/core/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is None
    assert denials("token-revoke") == before + 1


# --------------------------------------------------------------------------- memberships and grants


def test_tenant_admin_cannot_add_a_membership_in_another_tenant(as_admin_a, cast, tenant_b):
    response = as_admin_a.post(
        "/admin/core/membership/add/",
        {"user": cast["member_a"].pk, "tenant": tenant_b.pk, "role": "admin", "clearance": "4", "is_active": "on"},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Membership.objects.filter(user=cast["member_a"], tenant=tenant_b).exists()
    assert AuditEvent.objects.filter(event_type="access.denied", payload__reason="TENANT").exists()


def test_tenant_admin_cannot_change_a_membership_in_another_tenant(as_admin_a, cast, tenant_b):
    membership = Membership.objects.get(user=cast["shared"], tenant=tenant_b)
    response = as_admin_a.post(
        f"/admin/core/membership/{membership.pk}/change/", {"role": "reader", "clearance": "0", "is_active": "on"}
    )
    assert response.status_code in (302, 404)
    membership.refresh_from_db()
    assert membership.role == "admin"


def test_membership_changes_go_through_the_service(as_admin_a, cast, tenant_a):
    membership = Membership.objects.get(user=cast["member_a"], tenant=tenant_a)
    response = as_admin_a.post(
        f"/admin/core/membership/{membership.pk}/change/", {"role": "reviewer", "clearance": "2", "is_active": "on"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.role, membership.clearance) == ("reviewer", 2)
    assert AuditEvent.objects.filter(event_type="membership.changed", target_id=str(membership.pk)).exists()
    assert cast["member_a"].groups.filter(name="role:reviewer").exists()


def test_only_a_tenants_administrators_manage_object_grants(client, cast, tenant_a, tenant_b):
    own = factories.entity(tenant=tenant_a, name="Alpha Record")
    other = factories.entity(tenant=tenant_b, name="Bravo Record")
    client.force_login(cast["member_a"])  # an analyst of A
    assert client.get(f"/admin/core/entity/{own.pk}/permissions/").status_code == 403
    assert AuditEvent.objects.filter(event_type="access.denied", payload__reason="GRANT").count() == 1
    client.force_login(cast["admin_a"])
    assert client.get(f"/admin/core/entity/{own.pk}/permissions/").status_code == 200
    assert client.get(f"/admin/core/entity/{other.pk}/permissions/").status_code in (403, 404)


# --------------------------------------------------------------------------- history pages, superusers' memberships


def test_history_pages_of_another_tenants_rows_are_not_reachable(as_admin_a, cast, tenant_b):
    membership = Membership.objects.get(user=cast["shared"], tenant=tenant_b)
    version = membership.history.latest().history_id
    assert as_admin_a.get(f"/admin/core/membership/{membership.pk}/history/").status_code == 404
    url = f"/admin/core/membership/{membership.pk}/history/{version}/"
    response = as_admin_a.post(url, {"role": "reader", "clearance": "0", "is_active": "on"})
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.role == "admin"


def test_reverting_a_version_needs_the_right_to_change_the_record(client, cast, tenant_a):
    officer = factories.user(tenant=tenant_a, role="compliance", username="officer-a", password=PASSWORD)
    membership = Membership.objects.get(user=cast["member_a"], tenant=tenant_a)
    version = membership.history.latest().history_id
    client.force_login(officer)
    url = f"/admin/core/membership/{membership.pk}/history/{version}/"
    assert client.get(url).status_code == 200  # compliance staff may look
    before = denials("admin-revert")
    assert client.post(url, {"role": "admin", "clearance": "4", "is_active": "on"}).status_code == 403
    membership.refresh_from_db()
    assert membership.role == "analyst"
    assert denials("admin-revert") == before + 1


def test_a_superusers_membership_is_not_a_tenant_admins_to_change(as_admin_a, cast, tenant_a):
    membership = Membership.objects.get(user=cast["root"], tenant=tenant_a)
    response = as_admin_a.post(
        f"/admin/core/membership/{membership.pk}/change/", {"role": "reader", "clearance": "0", "is_active": "on"}
    )
    assert response.status_code == 403
    membership.refresh_from_db()
    assert (membership.role, membership.clearance) == ("reader", 2)
    found = as_admin_a.get(
        "/admin/autocomplete/", {"app_label": "core", "model_name": "membership", "field_name": "user", "term": ""}
    ).json()
    assert cast["root"].pk not in {int(item["id"]) for item in found["results"]}


def test_deactivating_a_membership_takes_the_member_out(as_admin_a, cast, tenant_a):
    membership = Membership.objects.get(user=cast["member_a"], tenant=tenant_a)
    response = as_admin_a.post(
        f"/admin/core/membership/{membership.pk}/change/", {"role": "analyst", "clearance": "2"}
    )  # is_active unticked
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.is_active is False
    assert AuditEvent.objects.filter(event_type="membership.deactivated", target_id=str(membership.pk)).exists()
    cast["member_a"].refresh_from_db()
    assert not cast["member_a"].is_staff and not cast["member_a"].groups.exists()


def test_object_grants_go_only_to_members_of_the_records_tenant_and_are_audited(as_admin_a, cast, tenant_a):
    record = factories.entity(tenant=tenant_a, name="Shared Record", sensitivity=2)
    outsider = cast["member_b"]
    url = f"/admin/core/entity/{record.pk}/permissions/user-manage/{outsider.pk}/"
    assert as_admin_a.post(url, {"permissions": ["view_entity"]}).status_code == 403
    assert denials("admin-change") >= 1
    member = cast["member_a"]
    url = f"/admin/core/entity/{record.pk}/permissions/user-manage/{member.pk}/"
    assert as_admin_a.post(url, {"permissions": ["view_entity"]}).status_code == 302
    event = AuditEvent.objects.filter(event_type="access.grant_changed").get()
    assert event.payload == {"user": str(member.pk), "permissions": ["view_entity"]}


def test_plain_admin_saves_are_audited(as_admin_a, tenant_a):
    response = as_admin_a.post(
        f"/admin/core/tenant/{tenant_a.pk}/change/",
        {"slug": tenant_a.slug, "name": "Alpha Renamed", "is_active": "on", "feature_flags": "{}"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.filter(event_type="admin.changed", target_id=str(tenant_a.pk)).get()
    assert "Name" in event.payload["fields"] and event.payload["model"] == "core.tenant"
