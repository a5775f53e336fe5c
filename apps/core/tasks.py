"""Celery tasks of the core app. Thin: they call the services."""

from celery import shared_task

from apps.core import alerts


@shared_task(name="core.send_alert", autoretry_for=(), acks_late=True)
def send_alert(subject: str, body: str) -> dict:
    return alerts.deliver(subject=subject, body=body)
