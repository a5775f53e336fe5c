"""A restore drill from the admin in Chromium, as an administrator runs one: the product served by uvicorn
(HTTP and WebSockets), a real Celery worker running the drill, the page following it live, then the signed report
and the RTO chart."""

import re

import pytest
from celery.contrib.testing.worker import start_worker

from apps.safety import services
from apps.safety.models import RestoreDrill
from intelgraph.celery import app
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("barman_cleanup")]
PASSWORD = "a long test password"


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit" / "checkpoint.json"
    settings.AUDIT_VERIFIED_FILE = tmp_path / "audit" / "verified.json"
    settings.AUDIT_TRUSTED_KEYS = []
    settings.BACKUP_SCRATCH_DIR = tmp_path / "scratch"
    settings.BACKUP_GRAPH_SNAPSHOT_DIR = tmp_path / "graph-snapshots"


def test_an_administrator_runs_a_drill_and_watches_it_live(asgi_server, page, screenshot):
    tenant = factories.tenant(slug="walk-acme")
    for index in range(5):
        factories.entity(tenant=tenant, name=f"Drill Walk {index}")
    factories.user(tenant=tenant, username="sre", password=PASSWORD, superuser=True)
    services.backup_take()
    app.control.purge()
    url = asgi_server.url

    page.goto(f"{url}/admin/login/?next=/admin/safety/backup/")
    page.fill("#id_username", "sre")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    assert "1 good backup" in page.inner_text("#backup-summary")

    page.goto(f"{url}/admin/safety/restoredrill/")
    page.fill("#id_target_time", "2099-01-01 00:00:00")
    page.click("#drill-run button[type=submit]")
    assert "is in the future" in page.inner_text("#drill-run")  # a form error; nothing queued
    assert RestoreDrill.objects.count() == 0

    page.fill("#id_target_time", "")
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        page.click("#drill-run button[type=submit]")
        page.wait_for_url(re.compile(r"/admin/safety/restoredrill/\d+/change/"))
        page.wait_for_function("document.getElementById('dr-live').textContent === 'live'", timeout=20_000)
        page.wait_for_selector(
            "tr[data-step=restore] td.dr-running, tr[data-step=restore] td.dr-passed", timeout=60_000
        )
        screenshot("restore-drill-running")
        page.wait_for_selector("#dr-signature", timeout=240_000)
    drill = RestoreDrill.objects.get()
    assert drill.status == "passed", drill.error
    assert "Signature verifies" in page.inner_text("#dr-signature")
    assert page.inner_text("#dr-status") == "passed"
    assert all(cell == "passed" for cell in page.locator("#dr-steps td:nth-child(2)").all_inner_texts())
    screenshot("restore-drill-report")

    page.goto(f"{url}/admin/safety/restoredrill/")
    assert page.locator("#rto-chart svg rect").count() == 1
    screenshot("restore-drill-chart")
