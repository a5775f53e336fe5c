"""The Explorer page: only for signed-in members of a tenant with the explorer flag, with what its script needs."""

import json

import pytest
from django.contrib.staticfiles import finders

from apps.access.services import SESSION_PURPOSE_KEY
from apps.core import services
from apps.core.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/explorer/"


@pytest.fixture
def flagged(db):
    return factories.tenant("north", name="North Unit", feature_flags={"explorer": True})


@pytest.fixture
def unflagged(db):
    return factories.tenant("south", name="South Unit", feature_flags={"er": True})


def page_config(response) -> dict:
    """The settings the page hands its script (json_script id explorer-config)."""
    return response.context["explorer_config"]


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/explorer/"


def test_member_of_a_flagged_tenant_gets_the_page(client, flagged):
    # given a reader in a tenant with the explorer flag on
    user = factories.user(tenant=flagged, role=Role.READER, username="rita")
    client.force_login(user)
    # when they open the Explorer
    response = client.get(URL)
    # then the page is there, with its canvas, search box and the settings its script reads
    assert response.status_code == 200
    assert response.templates[0].name == "explorer/explorer.html"
    body = response.content.decode()
    # no template comment or tag left unrendered (a {# #} comment over two lines prints as text)
    assert "{#" not in body and "{%" not in body
    for marker in (
        'id="explorer-search"',
        'id="cy"',
        'id="selection-panel"',
        'id="expand-1"',
        'id="live-status"',
        'id="banner-truncated"',
        'id="banner-degraded"',
        'id="explorer-config"',
    ):
        assert marker in body
    assert page_config(response)["tenants"] == [{"slug": "north", "name": "North Unit"}]
    assert page_config(response)["user"]["username"] == "rita"
    assert page_config(response)["urls"] == {
        "graphql": "/graphql",
        "purpose": "/access/purpose",
        "export": "/explorer/export",
        "summarize": "/explorer/summarize",
        "websocket": "/ws/explorer/",
    }
    assert page_config(response)["llm"] is False  # no provider configured: "Summarize" says so
    # and the JSON in the page parses to the same settings
    start = body.index('<script id="explorer-config" type="application/json">') + len(
        '<script id="explorer-config" type="application/json">'
    )
    embedded = json.loads(body[start : body.index("</script>", start)])
    assert embedded["tenants"][0]["slug"] == "north"


def test_member_of_only_unflagged_tenants_gets_404(client, unflagged):
    user = factories.user(tenant=unflagged, username="sam")
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 404


def test_a_flag_switched_off_hides_the_page(client, flagged):
    user = factories.user(tenant=flagged, username="sam")
    client.force_login(user)
    assert client.get(URL).status_code == 200
    flagged.feature_flags = {"explorer": False}
    flagged.save(update_fields=["feature_flags"])
    assert client.get(URL).status_code == 404


def test_an_inactive_membership_does_not_count(client, flagged, unflagged):
    user = factories.user(tenant=unflagged, username="sam")
    membership = services.membership_set(user=user, tenant=flagged, role=Role.ANALYST)
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    client.force_login(user)
    assert client.get(URL).status_code == 404


def test_only_flagged_tenants_are_offered(client, flagged, unflagged):
    user = factories.user(tenant=unflagged, username="sam")
    services.membership_set(user=user, tenant=flagged, role=Role.ANALYST)
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert [t["slug"] for t in page_config(response)["tenants"]] == ["north"]
    assert "South Unit" not in response.content.decode()


def test_a_tenant_the_user_does_not_belong_to_does_not_count(client, unflagged):
    factories.tenant("elsewhere", feature_flags={"explorer": True})
    user = factories.user(tenant=unflagged, username="sam")
    client.force_login(user)
    assert client.get(URL).status_code == 404


def test_declared_purpose_and_the_purposes_on_offer(client, flagged):
    user = factories.user(tenant=flagged, username="sam")
    client.force_login(user)
    session = client.session
    session[SESSION_PURPOSE_KEY] = "investigation"
    session.save()
    response = client.get(URL)
    config = page_config(response)
    assert config["purpose"] == "investigation"
    assert "investigation" in config["purposes"]
    body = response.content.decode()
    # the selector posts to the existing purpose endpoint and comes back here
    assert 'action="/access/purpose"' in body
    assert '<option value="investigation" selected>' in body
    assert 'name="next" value="/explorer/"' in body


def test_no_purpose_declared(client, flagged):
    user = factories.user(tenant=flagged, username="sam")
    client.force_login(user)
    response = client.get(URL)
    assert page_config(response)["purpose"] == ""
    assert '<option value="" selected>none declared</option>' in response.content.decode()


def test_the_page_sets_the_csrf_cookie_and_carries_the_token(client, flagged):
    user = factories.user(tenant=flagged, username="sam")
    client.force_login(user)
    response = client.get(URL)
    assert "csrftoken" in response.cookies
    # the cookie is HttpOnly, so the script reads the token from the form field the page renders
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()


def test_declaring_a_purpose_from_the_page_returns_to_it(client, flagged):
    user = factories.user(tenant=flagged, username="sam")
    client.force_login(user)
    response = client.post("/access/purpose", {"purpose": "investigation", "next": URL})
    assert response.status_code == 302
    assert response["Location"] == URL
    assert page_config(client.get(URL))["purpose"] == "investigation"


def test_post_is_not_allowed(client, flagged):
    user = factories.user(tenant=flagged, username="sam")
    client.force_login(user)
    assert client.post(URL).status_code == 405
    assert client.head(URL).status_code == 200


def test_the_page_uses_only_local_scripts():
    # given the vendored Cytoscape files (scripts/vendor-js.sh) and the page's own files
    for path in (
        "vendor/cytoscape/cytoscape.min.js",
        "vendor/cytoscape/cytoscape-fcose.js",
        "vendor/cytoscape/cose-base.js",
        "vendor/cytoscape/layout-base.js",
        "explorer/explorer.js",
        "explorer/explorer.css",
    ):
        assert finders.find(path), path


def test_no_script_or_style_comes_from_another_origin(client, flagged):
    user = factories.user(tenant=flagged, username="sam")
    client.force_login(user)
    body = client.get(URL).content.decode()
    assert "http://" not in body and "https://" not in body


@pytest.mark.django_db
def test_exports_need_a_purpose_and_are_audited(client):
    import json as _json

    from apps.access.services import SESSION_PURPOSE_KEY
    from apps.audit.models import AuditEvent
    from apps.core import services as core_services
    from tests import factories as f

    tenant = core_services.tenant_create(slug="exp", feature_flags={"explorer": True})
    user = f.user(tenant=tenant, role="analyst")
    entity = f.entity(tenant=tenant, name="On the canvas")
    client.force_login(user)
    body = {"format": "png", "ids": [str(entity.pk)]}
    refused = client.post("/explorer/export", _json.dumps(body), content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "PURPOSE_MISSING"
    assert not AuditEvent.objects.filter(event_type="explorer.exported").exists()
    session = client.session
    session[SESSION_PURPOSE_KEY] = "investigation"
    session.save()
    allowed = client.post("/explorer/export", _json.dumps(body), content_type="application/json")
    assert allowed.status_code == 200 and allowed.json() == {"ok": True, "tenants": 1, "entities": 1}
    event = AuditEvent.objects.get(event_type="explorer.exported")
    assert event.payload["format"] == "png" and event.payload["purpose"] == "investigation"
    bad = client.post("/explorer/export", "not json", content_type="application/json")
    assert bad.status_code == 400
    odd = client.post(
        "/explorer/export", _json.dumps({"format": "gif", "ids": [str(entity.pk)]}), content_type="application/json"
    )
    assert odd.status_code == 403 and odd.json()["code"] == "BAD_FORMAT"
