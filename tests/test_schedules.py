"""The periodic schedules declared in intelgraph/schedules.py and the sync that writes them to Celery beat."""

from dataclasses import replace

import pytest
from django.core.management import call_command
from django.test import Client
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from apps.safety.models import BackupPolicy
from apps.safety.services import policy_schedules
from intelgraph.schedules import CELERY_HOUSEKEEPING, SCHEDULES, Crontab, Interval, schedules_sync
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _migrated():
    """The state `migrate` leaves: transactional tests earlier in a run flush the tables (beat's rows with
    them) and a worker may have added its housekeeping task, so each test starts from a real migrate."""
    call_command("migrate", verbosity=0)


DRAIN = next(schedule for schedule in SCHEDULES if schedule.task == "graph.drain_outbox")


def _timing(row: PeriodicTask) -> Interval | Crontab:
    if row.interval is not None:
        return Interval(every=row.interval.every, period=row.interval.period)
    c = row.crontab
    return Crontab(c.minute, c.hour, c.day_of_week, c.day_of_month, c.month_of_year, str(c.timezone))


def _rows() -> dict[str, tuple]:
    return {
        row.name: (row.task, _timing(row), row.queue, row.enabled)
        for row in PeriodicTask.objects.select_related("interval", "crontab")
        if row.name not in CELERY_HOUSEKEEPING  # beat's own task, which the sync leaves alone
    }


def _expected(schedules=SCHEDULES) -> dict[str, tuple]:
    """The rows beat should hold: the declared schedules and those the backup policy derives, all enabled."""
    derived = policy_schedules(BackupPolicy.current())
    return {s.name: (s.task, s.when, s.queue, True) for s in (*schedules, *derived)}


def test_a_fresh_database_holds_exactly_the_declared_schedules():
    # given a test database just built by migrate
    # then beat's rows are the declared schedules and those the backup policy derives, enabled, and nothing else
    assert _rows() == _expected()
    assert {s.task for s in SCHEDULES} >= {"graph.drain_outbox", "audit.verify_chain"}
    assert DRAIN.when == Interval(every=10, period="seconds")


def test_a_second_sync_changes_nothing():
    # given a database already in step
    schedules_sync()
    before = {row.name: row.date_changed for row in PeriodicTask.objects.all()}
    last_change = PeriodicTasks.last_change()

    # when the sync runs again
    report = schedules_sync()

    # then no row was written, so beat is not told to reload
    assert not report.changed
    assert {row.name: row.date_changed for row in PeriodicTask.objects.all()} == before
    assert PeriodicTasks.last_change() == last_change
    assert IntervalSchedule.objects.filter(every=10, period="seconds").count() == 1


def test_a_schedule_disabled_in_the_admin_stays_disabled_after_a_sync():
    # given an administrator who disables the drain in the admin
    admin = factories.user(tenant=factories.tenant(), role="admin", superuser=True, password="pw-Secret-1")
    client = Client()
    client.force_login(admin)
    row = PeriodicTask.objects.get(name=DRAIN.name)
    response = client.post(
        "/admin/django_celery_beat/periodictask/", {"action": "disable_tasks", "_selected_action": [row.pk]}
    )
    assert response.status_code == 302
    assert not PeriodicTask.objects.get(pk=row.pk).enabled

    # when the sync runs (as after every migrate)
    report = schedules_sync()

    # then the drain stays disabled and nothing else was rewritten
    assert not report.changed
    assert not PeriodicTask.objects.get(pk=row.pk).enabled


def test_a_timing_edited_in_the_admin_is_set_back_to_the_code():
    # given a disabled drain whose period an administrator changed to a minute
    row = PeriodicTask.objects.get(name=DRAIN.name)
    row.interval = IntervalSchedule.objects.create(every=1, period="minutes")
    row.enabled = False
    row.save()

    # when the sync runs
    report = schedules_sync()

    # then the code's 10 seconds win, the admin's "disabled" is kept
    row.refresh_from_db()
    assert report.updated == [DRAIN.name]
    assert (row.interval.every, row.interval.period, row.enabled) == (10, "seconds", False)


def test_a_period_changed_in_code_updates_the_row():
    # given the drain's period changed in code from 10 to 30 seconds
    changed = tuple(
        replace(s, when=Interval(every=30, period="seconds")) if s.name == DRAIN.name else s for s in SCHEDULES
    )
    row_id = PeriodicTask.objects.get(name=DRAIN.name).pk

    # when the sync runs
    report = schedules_sync(schedules=changed)

    # then the same row now runs every 30 seconds, and only it changed
    assert report.updated == [DRAIN.name] and not report.created and not report.removed
    row = PeriodicTask.objects.get(name=DRAIN.name)
    assert (row.pk, row.interval.every, row.interval.period) == (row_id, 30, "seconds")
    assert _rows() == _expected(changed)


def test_an_interval_changed_to_a_crontab_in_code_replaces_the_interval():
    # given the drain moved to a crontab in code
    changed = tuple(replace(s, when=Crontab(minute="*/5")) if s.name == DRAIN.name else s for s in SCHEDULES)

    # when the sync runs
    schedules_sync(schedules=changed)

    # then the row has the crontab and no interval (beat accepts exactly one kind of schedule)
    row = PeriodicTask.objects.get(name=DRAIN.name)
    assert row.interval is None
    assert (row.crontab.minute, row.crontab.hour) == ("*/5", "*")


def test_schedules_not_declared_are_removed_and_missing_ones_created():
    # given a schedule added in the admin, and a declared one deleted there
    PeriodicTask.objects.create(
        name="Ad hoc", task="alerts.send", interval=IntervalSchedule.objects.create(every=1, period="hours")
    )
    PeriodicTask.objects.get(name=DRAIN.name).delete()

    # when the sync runs
    report = schedules_sync()

    # then the database holds exactly the declared schedules again
    assert (report.created, report.removed) == ([DRAIN.name], ["Ad hoc"])
    assert set(_rows()) == set(_expected())


def test_migrate_brings_an_existing_database_in_step():
    # given an existing database whose crontab drifted and whose drain row is gone
    PeriodicTask.objects.get(name=DRAIN.name).delete()
    verify = PeriodicTask.objects.get(task="audit.verify_chain")
    verify.crontab = CrontabSchedule.objects.create(minute="0", hour="12")
    verify.save()

    # when migrate runs (no migration pending)
    call_command("migrate", verbosity=0)

    # then the post_migrate sync restored the declared schedules
    assert _rows() == _expected()


def test_names_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        schedules_sync(schedules=(DRAIN, DRAIN))
