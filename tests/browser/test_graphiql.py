"""GraphiQL works from the server's own files (no CDN): an integrator runs a search in it."""

import pytest

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_graphiql_runs_a_search(live_server, page, screenshot):
    tenant = factories.tenant("north")
    factories.user(tenant=tenant, username="gq", password="a long test password", role="analyst", staff=True)
    factories.entity(tenant=tenant, name="Graphiql Person")
    page.goto(f"{live_server.url}/admin/login/?next=/graphql")
    page.fill("#id_username", "gq")
    page.fill("#id_password", "a long test password")
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.click("input[type=submit]")
    page.wait_for_load_state("load")
    screenshot("graphiql-loaded")
    page.wait_for_selector(".graphiql-container", timeout=20000)
    editor = page.locator(".graphiql-query-editor .CodeMirror").first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type('{ search(q: "graphiql") { hits { displayName kind } } }')
    page.click(".graphiql-execute-button")
    page.wait_for_function(
        "() => document.querySelector('.result-window') && document.querySelector('.result-window').innerText.includes('Graphiql Person')",
        timeout=20000,
    )
    screenshot("graphiql-search")
    assert not [url for url in failed if "static" in url]
