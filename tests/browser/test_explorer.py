"""The Explorer in Chromium against the real ASGI server (uvicorn, HTTP and WebSockets): sign in, search,
add a result, expand two hops, read the selection panel with and without clearance, hear a live change,
walk the page without a console error, and find no page when the tenant's flag is off."""

import pytest

from apps.audit.models import AuditEvent
from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.graph.services import outbox_drain
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long test password"


@pytest.fixture
def north():
    tenant = services.tenant_create(slug="north", name="North Bank", feature_flags={"explorer": True})
    ada = factories.entity(tenant=tenant, name="Ada Lovelace", attributes={"given_name": "Ada", "tax_id": "TX-424242"})
    engines = factories.entity(tenant=tenant, kind="organization", name="Analytical Engines Ltd")
    office = factories.entity(tenant=tenant, kind="address", name="12 St James's Square, London")
    services.relationship_create(tenant=tenant, kind="works_for", from_entity=ada, to_entity=engines)
    services.relationship_create(tenant=tenant, kind="registered_at", from_entity=engines, to_entity=office)
    factories.user(
        tenant=tenant, username="low", password=PASSWORD, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL
    )
    factories.user(tenant=tenant, username="high", password=PASSWORD, role=Role.ANALYST, clearance=Sensitivity.SECRET)
    outbox_drain()  # the server under test runs no worker: project the graph now
    return {"tenant": tenant, "ada": ada, "engines": engines, "office": office}


def sign_in(page, server, username):
    page.goto(f"{server.url}/explorer/")
    assert "/accounts/login/" in page.url  # analysts are not staff: the product's own sign-in page
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("html[data-explorer-ready]")


def search_add_expand(page, world):
    page.fill("#explorer-search", "Lovelace")
    page.press("#explorer-search", "Enter")
    page.wait_for_selector(f".result-item[data-id='{world['ada'].pk}']")
    page.click(f".result-item[data-id='{world['ada'].pk}'] [data-testid=result-add]")
    page.wait_for_function(f"window.explorer.cy.getElementById('{world['ada'].pk}').nonempty()")
    page.evaluate(f"window.explorer.api.selectOnly('{world['ada'].pk}')")
    page.click("#expand-2")
    page.wait_for_function(f"window.explorer.cy.getElementById('{world['office'].pk}').nonempty()")
    page.evaluate(f"window.explorer.api.selectOnly('{world['ada'].pk}')")
    page.wait_for_selector("#selection-panel .attr-row[data-name=tax_id]")


def test_low_clearance_sees_the_field_redacted_with_the_reason(asgi_server, page, screenshot, north):
    sign_in(page, asgi_server, "low")
    search_add_expand(page, north)
    assert page.evaluate("window.explorer.cy.nodes().length") == 3
    assert page.evaluate("window.explorer.cy.edges().length") == 2
    row = page.locator("#selection-panel .attr-row[data-name=tax_id]")
    assert "is-redacted" in row.get_attribute("class")
    assert "TX-424242" not in page.content()
    assert "FIELD_CLEARANCE" in row.inner_text()
    row.get_by_role("button").first.click()  # "Why can't I see this?"
    assert "abac.field_clearance" in row.inner_text()
    assert page.locator("#selection-panel .attr-row[data-name=given_name]").inner_text().endswith("Ada")
    screenshot("explorer-low-clearance")


def test_high_clearance_sees_the_field_and_hears_live_changes(asgi_server, page, screenshot, north):
    sign_in(page, asgi_server, "high")
    search_add_expand(page, north)
    row = page.locator("#selection-panel .attr-row[data-name=tax_id]")
    assert "is-redacted" not in (row.get_attribute("class") or "")
    assert "TX-424242" in row.inner_text()
    screenshot("explorer-high-clearance")
    page.wait_for_selector("#live-status[data-state=live]")
    services.entity_update(entity=north["engines"], display_name="Babbage Engines plc")  # another user's change
    page.wait_for_function(
        f"window.explorer.cy.getElementById('{north['engines'].pk}').data('display') === 'Babbage Engines plc'",
        timeout=15000,
    )
    screenshot("explorer-live-update")
    # Exporting is the policy's export action: refused without a purpose, allowed (and audited) with one
    page.click("#export-png")
    page.wait_for_selector("#toasts :text('PURPOSE_MISSING')")
    page.select_option("#purpose-select", "investigation")
    page.wait_for_timeout(500)
    with page.expect_download() as download:
        page.click("#export-png")
    assert download.value.suggested_filename.endswith(".png")
    assert AuditEvent.objects.filter(event_type="explorer.exported", payload__purpose="investigation").exists()


def console_problems(page):
    """Console errors and uncaught exceptions on the page from now on (a list that fills as they happen)."""
    problems = []

    def on_console(message):
        # The product serves no favicon; Chromium asks for one on every page and logs the 404 as an error.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"console.error: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return problems


def test_the_walk_raises_no_console_error_or_uncaught_exception(asgi_server, page, north):
    # given an analyst on the Explorer, with every console error and uncaught exception recorded
    problems = console_problems(page)
    sign_in(page, asgi_server, "high")
    # when they search, add, expand, preview, collapse, use the shortcuts and hear a live change
    search_add_expand(page, north)
    page.wait_for_selector("#live-status[data-state=live]")
    page.click("#preview")
    page.wait_for_selector("#preview-summary .preview-total")
    page.click("#collapse")
    page.wait_for_function("window.explorer.cy.nodes().length === 1")
    page.click("#expand-1")
    page.wait_for_function(f"window.explorer.cy.getElementById('{north['engines'].pk}').nonempty()")
    page.focus("#cy")
    for key in ("ArrowRight", "Enter", "f", "+", "-", "Escape", "?"):
        page.keyboard.press(key)
    page.wait_for_selector("#shortcuts-dialog[open]")
    page.keyboard.press("Escape")
    page.select_option("#layout-select", "concentric")
    services.entity_update(entity=north["engines"], display_name="Babbage Engines plc")
    page.wait_for_function(
        f"window.explorer.cy.getElementById('{north['engines'].pk}').data('display') === 'Babbage Engines plc'"
    )
    page.evaluate(f"window.explorer.api.selectOnly('{north['engines'].pk}')")
    page.wait_for_selector("#selection-panel .attr-row, #panel-details .muted")
    page.click("#canvas-clear")
    page.wait_for_function("window.explorer.cy.nodes().length === 0")
    # then nothing went wrong in the page's code, its module graph or its requests
    assert problems == []


def test_no_explorer_when_the_tenant_flag_is_off(asgi_server, page, north):
    south = services.tenant_create(slug="south", name="South Insurance")
    factories.user(tenant=south, username="southie", password=PASSWORD, role=Role.ANALYST)
    page.goto(f"{asgi_server.url}/accounts/login/?next=/explorer/")
    page.fill("#id_username", "southie")
    page.fill("#id_password", PASSWORD)
    response_holder = {}
    page.on("response", lambda r: response_holder.setdefault(r.url.rstrip("/").rsplit("/", 1)[-1], r.status))
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert response_holder.get("explorer") == 404
    assert page.locator("#cy").count() == 0
