"""Deprecated-field usage in the admin: per client and field with when it was last seen, and the "notify client"
action, which e-mails the token's owner the deprecation timeline through a real SMTP server (aiosmtpd, the
stand-in for the mail relay) and is audited."""

import json
import socket
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from apps.audit.models import AuditEvent
from apps.core import services
from apps.core.choices import Sensitivity
from apps.versioning.models import DeprecatedFieldUsage
from tests import factories

pytestmark = pytest.mark.django_db

WITH_VALUE = "query Old($id: ID!) { entity(id: $id) { attributeList { name value } } }"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield inbox
    controller.stop()


@pytest.fixture
def used(client, tenant_a):
    """Two tokens of one owner that ran an operation touching Attribute.value, 2 and 1 times."""
    owner = factories.user(
        tenant=tenant_a, role="reader", clearance=Sensitivity.CONFIDENTIAL, username="sync-owner", email="ops@acme.test"
    )
    entity = factories.entity(tenant=tenant_a, attributes={"city": "Oslo"})
    tokens = [services.api_token_issue(user=owner, name=name)[1] for name in ("nightly-sync", "dashboard")]
    for raw, times in zip(tokens, (2, 1), strict=True):
        for _ in range(times):
            client.post(
                "/graphql",
                data=json.dumps({"query": WITH_VALUE, "variables": {"id": str(entity.pk)}}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            )
    assert DeprecatedFieldUsage.objects.count() == 2
    return owner


def test_the_changelist_shows_each_client_and_field_with_last_seen(client, used, tenant_a):
    client.force_login(factories.user(tenant=tenant_a, role="admin", superuser=True, username="compliance"))
    page = client.get("/admin/versioning/deprecatedfieldusage/").content.decode()
    assert "Per client and field" in page
    assert page.count("(nightly-sync) of sync-owner") >= 2  # in the summary and in the daily rows
    assert "2026-03-31" in page  # the field's end of life


def test_notify_client_emails_the_owner_the_timeline_and_is_audited(client, used, tenant_a, smtp):
    client.force_login(factories.user(tenant=tenant_a, role="admin", superuser=True, username="compliance"))
    ids = list(DeprecatedFieldUsage.objects.values_list("pk", flat=True))
    response = client.post(
        "/admin/versioning/deprecatedfieldusage/",
        {"action": "notify_client", "_selected_action": ids},
        follow=True,
    )
    assert "Sent the deprecation timeline to: sync-owner." in response.content.decode()
    [(recipients, message)] = smtp.messages  # one mail per owner, however many of its tokens use the field
    assert recipients == ["ops@acme.test"]
    assert "Attribute.value" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert "deprecated 2025-09-30, EOL 2026-03-31, use Attribute.text instead" in body
    assert "(nightly-sync)" in body and "(dashboard)" in body
    assert all(row.notified_at for row in DeprecatedFieldUsage.objects.all())
    event = AuditEvent.objects.get(event_type="api.deprecation_notified")
    assert event.payload == {"user": "sync-owner", "fields": ["Attribute.value"], "usages": 2}


def test_notify_client_without_an_address_says_so_and_sends_nothing(client, used, tenant_a, smtp):
    used.email = ""
    used.save(update_fields=["email"])
    client.force_login(factories.user(tenant=tenant_a, role="admin", superuser=True, username="compliance"))
    ids = list(DeprecatedFieldUsage.objects.values_list("pk", flat=True))
    response = client.post(
        "/admin/versioning/deprecatedfieldusage/", {"action": "notify_client", "_selected_action": ids}, follow=True
    )
    assert "No e-mail address for: sync-owner" in response.content.decode()
    assert smtp.messages == [] and not AuditEvent.objects.filter(event_type="api.deprecation_notified").exists()
