"""Operational alerts to people: e-mail (Django's mail backend) and a Slack incoming webhook (platform layer).

``alert()`` is called by services when something needs a human (the ER scorer fell back to rules; later:
budget thresholds). It never raises and never blocks the caller: the message is sent by a Celery task after
the caller's transaction commits, and the same alert ``key`` is sent at most once per ALERT_THROTTLE_SECONDS.
"""

from __future__ import annotations

import json
import logging
import urllib.request

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger(__name__)


def first_in_window(key: str) -> bool:
    """True the first time ``key`` is seen within ALERT_THROTTLE_SECONDS, and whenever the cache is unavailable
    (better said twice than not at all)."""
    try:
        return bool(cache.add(key, "1", timeout=settings.ALERT_THROTTLE_SECONDS))
    except Exception as exc:
        logger.warning("throttle unavailable for %s: %s", key, exc)
        return True


def alert(*, key: str, subject: str, body: str, emails: list[str] | None = None) -> bool:
    """Queue an alert unless the same key was sent recently; returns whether it was queued. ``emails`` go to
    these addresses too (e.g. a tenant's budget contacts), besides the operators'."""
    if not settings.ALERT_EMAILS and not settings.ALERT_SLACK_WEBHOOK_URL and not emails:
        logger.warning("alert (no recipients configured): %s", subject)
        return False
    if not first_in_window(f"ig:alert:{key}"):
        return False

    def queue():
        try:
            send_alert.delay(subject, body, emails or [])
        except Exception as exc:
            logger.error("could not queue alert %r: %s", subject, exc)

    transaction.on_commit(queue)
    return True


def deliver(*, subject: str, body: str, emails: list[str] | None = None) -> dict:
    """Send now, to every configured channel; report what worked (for the task's result and tests)."""
    result = {"email": None, "slack": None}
    # The operators and any extra recipients (a tenant's budget contacts) get separate messages: neither sees the
    # other's addresses.
    extra = [address for address in dict.fromkeys(emails or []) if address not in settings.ALERT_EMAILS]
    for recipients in (settings.ALERT_EMAILS, extra):
        if not recipients:
            continue
        try:
            send_mail(f"[IntelGraph] {subject}", body, settings.DEFAULT_FROM_EMAIL, list(recipients))
            result["email"] = "sent"
        except Exception as exc:
            logger.error("alert e-mail failed: %s", exc)
            result["email"] = f"failed: {exc}"
    if settings.ALERT_SLACK_WEBHOOK_URL:
        payload = json.dumps({"text": f"*{subject}*\n{body}"}).encode()
        request = urllib.request.Request(  # noqa: S310 - an operator-configured http(s) URL (settings check it)
            settings.ALERT_SLACK_WEBHOOK_URL, data=payload, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - an operator-configured URL
                result["slack"] = f"http {response.status}"
        except Exception as exc:
            logger.error("alert to Slack failed: %s", exc)
            result["slack"] = f"failed: {exc}"
    return result


@shared_task(name="alerts.send", autoretry_for=(), acks_late=True)
def send_alert(subject: str, body: str, emails: list[str] | None = None) -> dict:
    """Deliver one alert from a worker (queued by ``alert`` after the caller's commit)."""
    return deliver(subject=subject, body=body, emails=emails)
