"""The SOC 2 control library and its live health (issue 20, items 1 and 2): every applicable control has an
evidence source that computes, statuses follow their evidence, the statement of applicability, attestations,
and the dashboard."""

import io
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.compliance import health
from apps.compliance import services as compliance
from apps.compliance.control_library import CONTROLS
from apps.compliance.errors import ComplianceError
from apps.compliance.models import AccessReview, Control
from apps.core.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


def _status(code: str, tenant=None, now=None) -> health.ControlHealth:
    return health.control_health(tenant=tenant, now=now, controls=[Control.objects.get(code=code)])[0]


def test_every_applicable_control_has_a_source_that_computes(tenant_a, tenant_b):
    assert Control.objects.filter(is_active=True).count() == len(CONTROLS)
    for tenant in (None, tenant_a, tenant_b):
        for row in health.control_health(tenant=tenant):
            assert row.control.sources, f"{row.control.code} has no evidence source"
            for evidence in row.evidence:
                assert evidence.source in health.SOURCES, f"{row.control.code}: unknown source {evidence.source}"
                assert evidence.status in ("green", "amber", "red")
                assert "could not be computed" not in evidence.reason, (row.control.code, evidence.reason)
                assert evidence.reason


def test_the_library_names_every_criterion_family_the_plan_names():
    families = {code.split(".")[0] for code, *_ in CONTROLS}
    assert families >= {f"CC{n}" for n in range(1, 10)} | {"A1", "C1"}
    assert {"CC6.1", "CC6.2", "CC6.3", "CC7.2", "CC8.1", "A1.2", "A1.3"} <= {code for code, *_ in CONTROLS}


def test_parts_not_built_yet_are_red_and_say_which_issue_builds_them():
    row = _status("A1.3")
    assert row.status == "red" and "no restore drill has run" in row.reason
    assert "issue 18" in _status("A1.1").reason


def test_the_cost_cap_control_follows_the_tenants_budgets(tenant_a, tenant_b):
    from decimal import Decimal

    from apps.finops.models import Budget, BudgetCap

    assert _status("CC9.1").status == "red" and "0 of 2 tenant(s) have a blocking cap" in _status("CC9.1").reason
    row = _status("CC9.1", tenant_a)
    assert row.status == "red" and "has no budget" in row.reason
    budget = Budget.objects.create(tenant=tenant_a, total_cap=Decimal("100"), total_action="alert")
    assert _status("CC9.1", tenant_a).status == "amber"  # alerts only
    BudgetCap.objects.create(budget=budget, category="llm", amount=Decimal("20"), action="block")
    row = _status("CC9.1", tenant_a)
    assert row.status == "green" and "blocks at llm" in row.reason and "of a 100.00 USD total cap" in row.reason
    installation = _status("CC9.1")
    assert installation.status == "amber" and f"not: {tenant_b.slug}" in installation.reason


def test_the_restore_drill_control_follows_the_last_signed_drill():
    failed = factories.restore_drill(status="failed", rto_seconds=None)
    failed.error = "backup 1 is corrupted"
    failed.save()
    assert _status("A1.3").status == "red" and "failed: backup 1 is corrupted" in _status("A1.3").reason
    passed = factories.restore_drill(status="passed", rto_seconds=61.0)
    row = _status("A1.3")
    assert row.status == "green" and f"drill #{passed.pk} passed: RTO 61 s" in row.reason
    passed.report["rto_seconds"] = 1.0  # a report changed after signing is not evidence
    passed.save()
    assert _status("A1.3").status == "red" and "signature does not verify" in _status("A1.3").reason


def test_access_review_controls_follow_the_reviews(tenant_a):
    officer = factories.user(tenant=tenant_a, role=Role.COMPLIANCE)
    assert _status("CC6.2", tenant_a).status == "red"  # no review yet
    review = compliance.access_review_launch(tenant=tenant_a, actor=officer, due_at=timezone.now() + timedelta(days=10))
    assert _status("CC6.2", tenant_a).status == "green"
    overdue = _status("CC6.2", tenant_a, now=review.due_at + timedelta(days=1))
    assert overdue.status == "red" and "is overdue" in overdue.reason
    AccessReview.objects.filter(pk=review.pk).update(status="closed", closed_at=review.due_at + timedelta(days=3))
    late = _status("CC6.2", tenant_a, now=review.due_at + timedelta(days=4))
    assert late.status == "amber" and "closed late" in late.reason


def test_the_audit_control_turns_red_when_verification_fails_and_green_when_it_passes():
    assert _status("CC7.2").status == "red"  # never verified
    audit.record("audit.verify_failed", payload={"problem": "position 7: changed: content does not match"})
    row = _status("CC7.2")
    assert row.status == "red" and "position 7: changed" in row.reason
    audit.record("audit.verified", payload={"ok": True, "size": 12})
    assert next(e for e in _status("CC7.2").evidence if e.source == "audit.verification").status == "green"
    stale = _status("CC7.2", now=timezone.now() + timedelta(days=2))
    assert next(e for e in stale.evidence if e.source == "audit.verification").status == "amber"


def test_attestations_and_applicability_change_a_control_and_bad_input_changes_nothing(tenant_a, tenant_b):
    officer = factories.user(tenant=tenant_a, role=Role.COMPLIANCE)
    control = Control.objects.get(code="CC1.1")
    assert _status("CC1.1", tenant_a).status == "red"
    with pytest.raises(ComplianceError, match="ends before it starts"):
        compliance.control_attest(
            control=control, actor=officer, tenant=tenant_a, statement="x", effective_from=date(2026, 12, 1),
            effective_until=date(2026, 1, 1),
        )  # fmt: skip
    with pytest.raises(ComplianceError, match="needs the compliance role there"):
        compliance.control_attest(
            control=control, actor=officer, tenant=tenant_b, statement="x", effective_from=date(2026, 1, 1),
            effective_until=date(2027, 1, 1),
        )  # fmt: skip
    with pytest.raises(ComplianceError, match="for every tenant is for superusers"):
        compliance.control_attest(
            control=control,
            actor=officer,
            statement="x",
            effective_from=date(2026, 1, 1),
            effective_until=date(2027, 1, 1),
        )
    today = timezone.now().date()
    compliance.control_attest(
        control=control, actor=officer, tenant=tenant_a, statement="Code of conduct accepted by all staff",
        effective_from=today - timedelta(days=30), effective_until=today + timedelta(days=335),
        document_sha256="ab" * 32,
    )  # fmt: skip
    row = _status("CC1.1", tenant_a)
    assert row.status == "green" and "Code of conduct accepted" in row.reason
    assert row.evidence[0].effective_until == today + timedelta(days=335)
    assert _status("CC1.1", tenant_b).status == "red"  # another tenant's attestation proves nothing here
    with pytest.raises(ComplianceError, match="needs a reason"):
        compliance.applicability_set(tenant=tenant_a, control=control, applicable=False, reason="", actor=officer)
    compliance.applicability_set(
        tenant=tenant_a, control=Control.objects.get(code="CC9.1"), applicable=False, reason="no metered features",
        actor=officer,
    )  # fmt: skip
    excluded = _status("CC9.1", tenant_a)
    assert excluded.status == "excluded" and "no metered features" in excluded.reason
    assert _status("CC9.1", tenant_b).status == "red"


def test_the_library_sync_is_idempotent_and_retires_what_it_dropped():
    assert compliance.controls_sync() == {"added": [], "updated": [], "retired": []}
    Control.objects.create(code="CC0.9", category="x", title="old", description="x", owner="x", frequency="x",
                           sources=["attestation"], library_version="old")  # fmt: skip
    Control.objects.filter(code="CC6.2").update(title="edited by hand")
    said = io.StringIO()
    call_command("controls_sync", stdout=said)
    assert "1 updated (CC6.2), 1 retired (CC0.9)" in said.getvalue()
    assert Control.objects.get(code="CC6.2").title == "Registration and authorisation of users"
    assert not Control.objects.get(code="CC0.9").is_active
    synced = AuditEvent.objects.get(event_type="compliance.controls_synced")
    assert synced.payload["updated"] == ["CC6.2"] and synced.payload["retired"] == ["CC0.9"]


def test_the_dashboard_shows_every_control_and_filters(tenant_a, tenant_b):
    officer = factories.user(tenant=tenant_a, role=Role.COMPLIANCE, staff=True)
    client = Client()
    client.force_login(officer)
    page = client.get("/admin/compliance/control/")
    html = page.content.decode()
    assert page.status_code == 200 and html.count('<tr data-code="') == len(CONTROLS)
    assert 'value="alpha" selected' in html and "bravo" not in html  # her tenant only
    red = client.get("/admin/compliance/control/?tenant=alpha&status=red").content.decode()
    assert 'data-status="green"' not in red.split('id="ctl-table"')[1] and 'data-code="A1.3"' in red
    other = client.get("/admin/compliance/control/?tenant=bravo").content.decode()
    assert 'value="alpha" selected' in other  # another tenant is not reachable by its slug
    control = Control.objects.get(code="A1.3")
    detail = client.get(f"/admin/compliance/control/{control.pk}/change/?tenant=alpha").content.decode()
    assert 'data-source="backup.drills"' in detail and "no restore drill has run" in detail
    assert client.post(f"/admin/compliance/control/{control.pk}/change/", {"title": "x"}).status_code == 403
