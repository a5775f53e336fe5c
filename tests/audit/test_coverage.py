"""Audit coverage (issue 13, item 3): every event type is in the catalogue, every model the admin can change
leaves an audit event naming it when changed there, and the coverage report counts them."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from apps.access.services import SESSION_PURPOSE_KEY
from apps.audit import catalogue
from apps.audit import services as audit
from apps.audit.admin import AuditedAdminMixin
from apps.audit.errors import AuditError
from apps.audit.models import AuditEvent
from apps.core import services as core
from apps.core.choices import Role, Sensitivity
from tests import factories
from tests.access.test_permission_matrix import ROW_BUILDERS

pytestmark = pytest.mark.django_db

ADMIN_MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)
# Models no admin page may change: rows only services write. The walk checks that a POST is refused.
READ_ONLY = {
    "audit.AuditEvent",
    "audit.AuditSigningKey",
    "audit.AuditTombstone",
    "access.PolicyBundleVersion",
    "search.ExcludedField",
    "versioning.DeprecatedFieldUsage",
    "core.Provenance",
    "core.GroundTruthLabel",
    "compliance.Control",
    "compliance.ControlAttestation",
    "compliance.EvidenceBundle",
    "safety.GraphSnapshot",
    "safety.RestorePoint",
    "safety.RestoreDrill",
    "finops.BudgetAlert",
    "finops.UsageDaily",
}
# Changed through their own admin pages, not the change form: each is walked through that page below.
OWN_PAGES = {
    "er.CandidatePair",
    "er.Merge",
    "audit.LegalHold",
    "er.ModelPin",
    "compliance.AccessReview",
    "finops.OverageRequest",  # decided on its change page (approve or reject), tested in tests/finops
}


class FormReader(HTMLParser):
    """The fields of the admin's change form as a browser would submit them (Save)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, []
        self._select, self._textarea, self._text = None, None, ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data.append((name, attrs.get("value", "on")))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self.data.append((name, attrs.get("value", "")))
        elif tag == "select" and name and "disabled" not in attrs:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.data.append((self._select, attrs.get("value", "")))
        elif tag == "textarea" and name and "disabled" not in attrs:
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.data.append((self._textarea, self._text.lstrip("\n")))
            self._textarea = None


def submitted(html: str, form_id: str) -> dict:
    reader = FormReader(form_id)
    reader.feed(html)
    form: dict[str, list[str]] = {}
    for name, value in reader.data:
        form.setdefault(name, []).append(value)
    form["_save"] = ["Save"]
    return form


@pytest.fixture
def world(tenant_a, tenant_b):
    return SimpleNamespace(tenant_a=tenant_a, tenant_b=tenant_b, theirs=factories.entity(tenant=tenant_b))


@pytest.fixture
def root(tenant_a, tenant_b):
    """A superuser who is also an administrator of both tenants (deciding pairs needs the role in the tenant)."""
    user = factories.user(
        tenant=tenant_a, role=Role.ADMIN, clearance=Sensitivity.TOP_SECRET, superuser=True, username="root-walker"
    )
    core.membership_set(user=user, tenant=tenant_b, role=Role.ADMIN, clearance=Sensitivity.TOP_SECRET)
    client = Client()
    client.force_login(user)
    return client


def named(model, pk, after: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(seq__gt=after, target_type=model._meta.label_lower, target_id=str(pk)).values_list(
            "event_type", flat=True
        )
    )


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def test_every_admin_is_audited():
    assert [m._meta.label for m, a in admin.site._registry.items() if not isinstance(a, AuditedAdminMixin)] == []


@pytest.mark.parametrize("label", [m._meta.label for m in ADMIN_MODELS])
def test_changing_any_model_in_the_admin_leaves_an_event_naming_it(world, root, label):
    model = next(m for m in ADMIN_MODELS if m._meta.label == label)
    assert label in ROW_BUILDERS, f"{label}: add a row builder to tests/access/test_permission_matrix.py"
    row = ROW_BUILDERS[label](world)
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    before = last_seq()
    if label in OWN_PAGES:
        changed = _walk_own_page(root, label, row)
        assert named(model, changed.pk, before), f"{label}: its admin page changed it, no audit event names it"
        return
    page = root.get(f"{base}{row.pk}/change/")
    assert page.status_code == 200, page
    html = page.content.decode()
    form_id = f"{model._meta.model_name}_form"
    if label in READ_ONLY:
        assert 'name="_save"' not in html, f"{label} is listed read-only but its page offers Save"
        refused = root.post(f"{base}{row.pk}/change/", submitted(html, form_id))
        assert refused.status_code == 403, f"{label}: a POST to a read-only page was not refused"
        assert not named(model, row.pk, before) or AuditEvent.objects.filter(seq__gt=before).count() < 3
        return
    assert 'name="_save"' in html, f"{label}: no Save on its change page; list it in READ_ONLY or OWN_PAGES"
    response = root.post(f"{base}{row.pk}/change/", submitted(html, form_id))
    errors = response.context["adminform"].form.errors if response.status_code == 200 and response.context else ""
    assert response.status_code == 302, f"{label}: the change was not saved: {errors}"
    events = named(model, row.pk, before)
    assert "admin.changed" in events, f"{label}: changed in the admin, no admin.changed event names it ({events})"
    event = AuditEvent.objects.filter(seq__gt=before, event_type="admin.changed", target_id=str(row.pk)).get()
    assert event.actor.username == "root-walker" and event.payload["model"] == model._meta.label_lower
    assert event.payload["log_entry"] is not None
    if hasattr(model, "history"):
        assert event.payload["history"] is not None, f"{label}: the change-history record is not linked"


def _walk_own_page(client, label, row):
    """The admin pages these models change through; returns the record the change is about."""
    if label == "audit.LegalHold":
        response = client.post(f"/admin/audit/legalhold/{row.pk}/lift/", {"reason": "matter closed"})
        assert response.status_code == 302
        row.refresh_from_db()
        assert row.lifted_at is not None
        return row
    if label == "er.CandidatePair":  # the decide page: Reject
        response = client.post(f"/admin/er/candidatepair/{row.pk}/change/", {"decision": "reject", "reason": "walk"})
        assert response.status_code == 302, response.context["form"].errors if response.context else response
        return row
    if label == "er.Merge":  # the rollback page, with the purpose it asks for declared
        session = client.session
        session[SESSION_PURPOSE_KEY] = "investigation"
        session.save()
        response = client.post(f"/admin/er/merge/{row.pk}/rollback/", {"reason": "walk"})
        assert response.status_code == 302, response.context["form"].errors if response.context else response
        return row
    if label == "compliance.AccessReview":  # a review is launched on its add page, then decided on its own page
        response = client.post(
            "/admin/compliance/accessreview/add/",
            {
                "tenant": row.tenant_id,
                "period": "2026-Q2",
                "due_at_0": (timezone.now() + timedelta(days=20)).strftime("%Y-%m-%d"),
                "due_at_1": "12:00:00",
                "_save": "Save",
            },
        )
        assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
        return type(row).objects.order_by("-pk").first()
    if label == "finops.OverageRequest":  # decided on its change page: approve with an amount and an expiry
        response = client.post(
            f"/admin/finops/overagerequest/{row.pk}/change/",
            {
                "decision": "approve",
                "approved_amount": "25",
                "expires_at_0": (timezone.now() + timedelta(days=5)).strftime("%Y-%m-%d"),
                "expires_at_1": "12:00:00",
                "decision_note": "walk",
                "_save": "Save",
            },
        )
        assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
        row.refresh_from_db()
        assert row.status == "approved"
        return row
    # er.ModelPin: a pin is never edited; a rollout step is a new pin, added on its add page
    response = client.post(
        "/admin/er/modelpin/add/",
        {"tenant": row.tenant_id, "artifact": row.artifact_id, "mode": "shadow", "note": "walk", "_save": "Save"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return type(row).objects.order_by("-pk").first()


def test_an_admin_delete_leaves_an_event_per_object(root, tenant_a):
    from django_celery_beat.models import IntervalSchedule

    schedules = [IntervalSchedule.objects.create(every=n, period="minutes") for n in (11, 12, 13)]
    before = last_seq()
    response = root.post(
        "/admin/django_celery_beat/intervalschedule/",
        {"action": "delete_selected", "_selected_action": [s.pk for s in schedules], "post": "yes"},
    )
    assert response.status_code == 302
    deleted = AuditEvent.objects.filter(seq__gt=before, event_type="admin.deleted").values_list("target_id", flat=True)
    assert sorted(deleted) == sorted(str(s.pk) for s in schedules)


def test_beats_list_actions_are_audited(root):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=3, period="minutes")
    task = PeriodicTask.objects.create(name="walk task", task="audit.check_sealing", interval=every, enabled=True)
    before = last_seq()
    response = root.post(
        "/admin/django_celery_beat/periodictask/", {"action": "disable_tasks", "_selected_action": [task.pk]}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert not task.enabled
    event = AuditEvent.objects.filter(seq__gt=before, event_type="admin.changed", target_id=str(task.pk)).get()
    assert event.payload["fields"] == ["disable_tasks"]


def test_an_admin_addition_is_audited(root, tenant_a):
    before = last_seq()
    response = root.post(
        "/admin/django_celery_beat/crontabschedule/add/",
        {
            "minute": "7",
            "hour": "*",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "timezone": "UTC",
            "periodictask_set-TOTAL_FORMS": "0",
            "periodictask_set-INITIAL_FORMS": "0",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, _errors(response)
    event = AuditEvent.objects.filter(seq__gt=before, event_type="admin.created").get()
    assert event.target_type == "django_celery_beat.crontabschedule"


def _errors(response):
    if not response.context:
        return response
    form = response.context["adminform"].form
    return form.errors, form.non_field_errors(), response.context.get("errors")


def test_an_unknown_event_type_is_refused():
    with pytest.raises(AuditError, match="catalogue"):
        audit.record("search.querried")
    assert not AuditEvent.objects.filter(event_type="search.querried").exists()


def test_every_catalogued_type_has_a_retention_class():
    for kind in catalogue.EVENT_TYPES.values():
        assert kind.retention in catalogue.RETENTION_DAYS, kind


def test_the_coverage_report_counts_each_type_per_tenant(tenant_a, tenant_b, capsys):
    for _ in range(3):
        audit.record("search.query", tenant=tenant_a)
    audit.record("search.query", tenant=tenant_b)
    audit.record("auth.login_failed", actor_label="mallory")
    call_command("audit_coverage", "--format", "json")
    report = json.loads(capsys.readouterr().out)
    rows = {r["event_type"]: r for r in report["types"]}
    assert set(catalogue.EVENT_TYPES) - {"matrix.bravo"} <= set(rows)
    assert rows["search.query"]["per_tenant"] == {tenant_a.slug: 3, tenant_b.slug: 1}
    assert rows["auth.login_failed"]["per_tenant"] == {"": 1}
    assert rows["er.merged"]["total"] == 0 and rows["er.merged"]["retention"] == "long-1825d"
    call_command("audit_coverage", "--tenant", tenant_a.slug)
    table = capsys.readouterr().out
    assert "search.query" in table and "(none in the period)" in table
    with pytest.raises(CommandError, match="no such tenant"):
        call_command("audit_coverage", "--tenant", "nobody")
    with pytest.raises(CommandError, match="not a date"):
        call_command("audit_coverage", "--since", "yesterday")


def test_the_coverage_page_shows_a_member_only_their_tenants(tenant_a, tenant_b):
    audit.record("search.query", tenant=tenant_a)
    audit.record("search.query", tenant=tenant_b)
    officer = factories.user(tenant=tenant_a, role=Role.COMPLIANCE, staff=True)
    client = Client()
    client.force_login(officer)
    page = client.get("/admin/audit/auditevent/coverage/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"<th>{tenant_a.slug}</th>" in html and f"<th>{tenant_b.slug}</th>" not in html
    bad = client.get("/admin/audit/auditevent/coverage/", {"since": "2026-13-45", "until": "x"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    listing = client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200 and "Last verification" in listing.content.decode()
    assert timezone.now()
