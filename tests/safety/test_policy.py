"""The backup policy in the admin (history, audit, beat entries), retention tiers, pins and legal holds."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.audit.models import AuditEvent
from apps.core.choices import Role
from apps.safety import services
from apps.safety.choices import BackupStatus
from apps.safety.errors import SafetyError
from apps.safety.models import BackupPolicy, RetentionTier
from tests import factories

pytestmark = pytest.mark.django_db


def _form(policy: BackupPolicy, **changes) -> dict:
    data = {
        "full_schedule": policy.full_schedule,
        "incremental_schedule": policy.incremental_schedule,
        "wal_archive_timeout_seconds": policy.wal_archive_timeout_seconds,
        "drill_schedule": policy.drill_schedule,
        "window_start": policy.window_start.strftime("%H:%M:%S"),
        "window_end": policy.window_end.strftime("%H:%M:%S"),
        "throughput_limit_mb_s": policy.throughput_limit_mb_s,
        "rto_limit_seconds": policy.rto_limit_seconds,
        "rpo_limit_seconds": policy.rpo_limit_seconds,
        "max_backup_age_hours": policy.max_backup_age_hours,
        "max_wal_age_seconds": policy.max_wal_age_seconds,
        "_save": "Save",
    }
    tiers = list(policy.tiers.order_by("pk"))
    data.update({
        "tiers-TOTAL_FORMS": len(tiers), "tiers-INITIAL_FORMS": len(tiers), "tiers-MIN_NUM_FORMS": 1,
        "tiers-MAX_NUM_FORMS": 1000,
    })  # fmt: skip
    for index, tier in enumerate(tiers):
        data.update({
            f"tiers-{index}-id": tier.pk, f"tiers-{index}-policy": policy.pk, f"tiers-{index}-period": tier.period,
            f"tiers-{index}-keep": tier.keep,
        })  # fmt: skip
    data.update(changes)
    return data


@pytest.fixture
def root():
    client = Client()
    client.force_login(factories.user(tenant=factories.tenant(), role=Role.ADMIN, superuser=True, username="sre-root"))
    return client


def test_a_policy_change_in_the_admin_is_audited_kept_in_history_and_drives_beat(
    root, django_capture_on_commit_callbacks
):
    policy = BackupPolicy.current()
    url = f"/admin/safety/backuppolicy/{policy.pk}/change/"
    page = root.get(url)
    assert page.status_code == 200 and "AES-256" in page.content.decode()
    daily = policy.tiers.get(period="daily")
    with django_capture_on_commit_callbacks(execute=True):
        response = root.post(
            url, _form(policy, full_schedule="5 3 * * 6", incremental_schedule="", **{"tiers-0-keep": 21})
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert policy.full_schedule == "5 3 * * 6"
    assert policy.tiers.get(pk=daily.pk).keep == 21 or policy.tiers.filter(keep=21).exists()
    event = AuditEvent.objects.filter(event_type="backup.policy_changed").latest("seq")
    assert event.actor.username == "sre-root"
    assert event.payload["changed"]["full_schedule"] == ["17 2 * * 0", "5 3 * * 6"]
    assert policy.history.count() >= 2
    full = PeriodicTask.objects.get(name="Backup policy: full backup")
    assert (full.crontab.minute, full.crontab.hour, full.crontab.day_of_week) == ("5", "3", "6")
    assert not PeriodicTask.objects.filter(name="Backup policy: incremental backup").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("full_schedule", "every night", "Give five crontab fields"),
        ("full_schedule", "61 2 * * *", "Not a crontab line Celery beat can run"),
        ("wal_archive_timeout_seconds", "1", "greater than or equal to 5"),
        ("window_end", "01:00:00", "must differ from its start"),
        ("tiers-0-keep", "0", "greater than or equal to 1"),
    ],
)
def test_bad_policy_input_is_a_form_error_and_changes_nothing(root, field, value, message):
    policy = BackupPolicy.current()
    before = services.policy_fields(policy)
    response = root.post(f"/admin/safety/backuppolicy/{policy.pk}/change/", _form(policy, **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert services.policy_fields(BackupPolicy.current()) == before
    assert not AuditEvent.objects.filter(event_type="backup.policy_changed").exists()


def test_tenant_staff_never_see_the_installation_backups():
    tenant = factories.tenant()
    staff = factories.user(tenant=tenant, role=Role.ADMIN, staff=True)
    client = Client()
    client.force_login(staff)
    for url in ("/admin/safety/backuppolicy/", "/admin/safety/backup/", "/admin/safety/restoredrill/"):
        assert client.get(url).status_code in (302, 403), url
    assert client.post("/admin/safety/restoredrill/run/", {}).status_code in (302, 403)
    assert client.post("/admin/safety/backup/take/", {"kind": "full"}).status_code in (302, 403)


def test_the_policy_list_opens_the_one_policy_and_refuses_tenant_staff():
    root = Client()
    root.force_login(factories.user(tenant=factories.tenant(), superuser=True))
    response = root.get("/admin/safety/backuppolicy/")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/safety/backuppolicy/{BackupPolicy.current().pk}/change/"
    staff = Client()
    staff.force_login(factories.user(tenant=factories.tenant(), role=Role.ADMIN, staff=True))
    assert staff.get("/admin/safety/backuppolicy/").status_code == 403


def test_the_maintenance_window_may_cross_midnight():
    policy = BackupPolicy.current()
    policy.window_start, policy.window_end = datetime.time(22, 0), datetime.time(4, 0)
    at = datetime.datetime(2026, 12, 4, tzinfo=datetime.UTC)
    assert policy.in_window(at.replace(hour=23)) and policy.in_window(at.replace(hour=3))
    assert not policy.in_window(at.replace(hour=12))


def test_retention_keeps_each_tier_pins_holds_and_parents_and_nothing_else():
    policy = BackupPolicy.current()
    RetentionTier.objects.filter(policy=policy).delete()
    RetentionTier.objects.create(policy=policy, period="daily", keep=3)
    RetentionTier.objects.create(policy=policy, period="monthly", keep=2)
    now = timezone.now().replace(hour=12)
    days = [factories.backup(started_at=now - datetime.timedelta(days=n)) for n in range(0, 70)]
    pinned = days[50]
    pinned.pinned = True
    pinned.save()
    held = days[60]
    held.legal_hold, held.hold_reason = True, "matter 42"
    held.save()
    child = factories.backup(
        started_at=now - datetime.timedelta(days=69, hours=-1), kind="incremental", parent=days[69]
    )
    child.pinned = True
    child.save()
    keep, expired = services.retention_plan(now=now)
    kept = {backup.pk for backup in days if backup.pk in keep}
    assert {days[0].pk, days[1].pk, days[2].pk} <= kept  # daily: the last 3 days
    assert pinned.pk in keep and keep[pinned.pk] == "pinned"
    assert keep[held.pk] == "legal hold"
    assert days[69].pk in keep and keep[days[69].pk].startswith("parent of")
    assert days[10].pk not in keep and days[10] in expired
    # monthly keeps the newest of this month and of last month
    assert sum(1 for reason in keep.values() if reason.startswith("monthly")) >= 1


def test_legal_holds_need_reasons_and_block_unpinning(root):
    backup = factories.backup()
    user = None  # a service call outside a request (the admin path is walked below)
    with pytest.raises(SafetyError, match="Give a reason for the legal hold"):
        services.backup_keep(backup, actor=user, legal_hold=True, reason=" ")
    services.backup_keep(backup, actor=user, pinned=True, legal_hold=True, reason="matter 42")
    with pytest.raises(SafetyError, match="lift the hold first"):
        services.backup_keep(backup, actor=user, pinned=False)
    with pytest.raises(SafetyError, match="Give a reason to lift"):
        services.backup_keep(backup, actor=user, legal_hold=False)
    services.backup_keep(backup, actor=user, legal_hold=False, reason="matter closed")
    backup.refresh_from_db()
    assert backup.pinned and not backup.legal_hold
    assert AuditEvent.objects.filter(event_type="backup.kept", target_id=str(backup.pk)).count() == 2
    # and in the admin a hold without a reason is a form error
    response = root.post(
        f"/admin/safety/backup/{backup.pk}/change/", {"pinned": "on", "legal_hold": "on", "hold_reason": ""}
    )
    assert response.status_code == 200 and "Give a reason for the legal hold" in response.content.decode()


def test_freshness_says_what_is_stale():
    assert "there is no good backup" in services.freshness_problems()
    factories.backup(started_at=timezone.now() - datetime.timedelta(hours=40))
    problems = services.freshness_problems()
    assert any("h old, past the policy's 26 h" in problem for problem in problems)
    factories.backup(started_at=timezone.now() - datetime.timedelta(hours=1), status=BackupStatus.GOOD)
    assert not any("h old" in problem for problem in services.freshness_problems())


def test_a_drill_report_downloads_with_its_signature_for_superusers_only(root):
    import json

    from apps.audit import services as audit

    drill = factories.restore_drill()
    response = root.get(f"/admin/safety/restoredrill/{drill.pk}/report.json")
    assert response.status_code == 200
    assert f"restore-drill-{drill.pk}.json" in response["Content-Disposition"]
    document = json.loads(response.content)
    assert document["report"] == drill.report and document["signature"] == drill.signature
    assert audit.canonical_json(document["report"]) == audit.canonical_json(drill.report)
    page = root.get(f"/admin/safety/restoredrill/{drill.pk}/change/").content.decode()
    assert "&quot;rto_seconds&quot;: 42.0" in page and "Download the signed report" in page
    assert root.get("/admin/safety/restoredrill/999999/report.json").status_code == 403

    staff = Client()
    staff.force_login(factories.user(tenant=factories.tenant(), role=Role.ADMIN, staff=True))
    assert staff.get(f"/admin/safety/restoredrill/{drill.pk}/report.json").status_code in (302, 403)
