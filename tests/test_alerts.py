"""Operational alerts: e-mail through Django's mail backend and a Slack webhook, tested against a local HTTP
receiver that speaks the webhook protocol (Slack itself cannot be reached from here), sent by a real worker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.core.cache import cache
from django.db import transaction

from intelgraph import alerts
from intelgraph.celery import app


def test_deliver_sends_mail_and_posts_to_the_webhook(settings, slack):
    url, received = slack
    settings.ALERT_EMAILS = ["oncall@example.org"]
    settings.ALERT_SLACK_WEBHOOK_URL = url
    result = alerts.deliver(subject="ER fell back to rules", body="pinned model refused")
    assert result == {"email": "sent", "slack": "http 200"}
    assert mail.outbox[0].subject == "[IntelGraph] ER fell back to rules" and mail.outbox[0].to == [
        "oncall@example.org"
    ]
    assert received == [{"text": "*ER fell back to rules*\npinned model refused"}]


def test_an_unreachable_webhook_is_reported_not_raised(settings):
    settings.ALERT_EMAILS = []
    settings.ALERT_SLACK_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    assert alerts.deliver(subject="x", body="y")["slack"].startswith("failed")


@pytest.mark.django_db
def test_alerts_are_throttled_and_need_recipients(settings):
    settings.ALERT_EMAILS = []
    settings.ALERT_SLACK_WEBHOOK_URL = ""
    assert alerts.alert(key="t1", subject="s", body="b") is False
    settings.ALERT_EMAILS = ["oncall@example.org"]
    cache.delete("ig:alert:t2")
    assert alerts.alert(key="t2", subject="s", body="b") is True
    assert alerts.alert(key="t2", subject="s", body="b") is False  # within ALERT_THROTTLE_SECONDS


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
def test_a_worker_sends_the_alert_after_commit(settings, slack):
    url, received = slack
    settings.ALERT_EMAILS = ["oncall@example.org"]
    settings.ALERT_SLACK_WEBHOOK_URL = url
    cache.delete("ig:alert:worker")
    app.control.purge()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        with transaction.atomic():
            assert alerts.alert(key="worker", subject="Budget at 80%", body="tenant acme")
            assert not received  # nothing leaves before the commit
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
    assert received == [{"text": "*Budget at 80%*\ntenant acme"}]
    assert mail.outbox[-1].subject == "[IntelGraph] Budget at 80%"
