"""The scheduled audit verification, run by a real Celery worker on the real broker."""

import pytest
from celery.contrib.testing.worker import start_worker

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.audit.sealing import seal_pending
from apps.audit.tasks import verify_audit_chain
from intelgraph.celery import app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def test_worker_verifies_the_log_and_records_outcome():
    audit.record("test.event", payload={"n": 1})
    seal_pending()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        result = verify_audit_chain.delay().get(timeout=60)
    assert result["ok"] is True
    assert result["checked"] >= 1
    assert AuditEvent.objects.filter(event_type="audit.verified").exists()
