"""Every periodic schedule of IntelGraph, declared in one place, and the sync that writes them to Celery beat.

Celery beat reads its schedule from the database (django-celery-beat's ``DatabaseScheduler``); the rows there
are made from ``SCHEDULES`` by ``schedules_sync``, which runs after every ``migrate`` (wired in
``apps/audit/apps.py``). To add, change or remove a schedule, edit ``SCHEDULES``: the next migrate makes
the database match. Tasks are named by their registered Celery name, so this module imports no app.
"""

from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

# Beat installs this row itself when the result backend cannot expire results; it is Celery's, not ours.
CELERY_HOUSEKEEPING = {"celery.backend_cleanup"}


@dataclass(frozen=True)
class Interval:
    """Run every ``every`` ``period`` (a django-celery-beat period: "seconds", "minutes", "hours", "days")."""

    every: int
    period: str


@dataclass(frozen=True)
class Crontab:
    """Run at the times a crontab line names, in ``timezone``."""

    minute: str = "*"
    hour: str = "*"
    day_of_week: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Schedule:
    """One periodic task: its name in the admin, the Celery task it runs, when, and on which queue."""

    name: str
    task: str
    when: Interval | Crontab
    description: str
    queue: str | None = None  # None: Celery's default queue, the one every worker consumes today


SCHEDULES: tuple[Schedule, ...] = (
    # Every write already queues a drain once it commits; this is the safety net for a queued drain that was
    # lost (worker restart, broker hiccup, graph store down past its retries). 10 s bounds how stale the graph
    # projection can get in that case; a run on an empty outbox is a lock and two small queries.
    Schedule(
        name="Drain the graph outbox",
        task="graph.drain_outbox",
        when=Interval(every=10, period="seconds"),
        description="Apply pending graph outbox rows to the graph store (safety net behind the per-write drain).",
    ),
    # The same for online entity resolution: every commit that writes entities queues er.score_outbox; a lost task
    # leaves rows behind until this run (a minute; an empty outbox costs one indexed query).
    Schedule(
        name="Score the ER outbox",
        task="er.score_outbox",
        when=Interval(every=60, period="seconds"),
        description="Score entities whose outbox rows a lost wake-up left behind (safety net behind each commit).",
    ),
    # Each run verifies the log from the last verified state, so daily keeps a run short while a tampered or
    # missing row is found within a day. 03:17 UTC: a quiet hour, and off the hour so it does not start together with
    # jobs that run on the hour.
    Schedule(
        name="Verify the audit chain (daily)",
        task="audit.verify_chain",
        when=Crontab(minute="17", hour="3"),
        description="Verify the audit log from the last verified state, move it on, record the outcome.",
    ),
    # Retention: sealed segments whose every event is past its class (365 or 1,825 days, longer per tenant) and
    # under no legal hold. Daily at 04:41 UTC, after the verification, so a purge never removes what was not
    # verified the night before; AUDIT_PURGE_ENABLED=0 turns it into a dry run that only reports.
    Schedule(
        name="Purge audit events past retention (daily)",
        task="audit.purge",
        when=Crontab(minute="41", hour="4"),
        description="Delete sealed audit segments past retention that no legal hold covers; keep signed tombstones.",
    ),
    # The sealer runs apart from Celery; this notices when it is down (or held back) and alerts after
    # AUDIT_UNSEALED_ALERT_SECONDS. A run is one range read on an index.
    Schedule(
        name="Check audit sealing lag",
        task="audit.check_sealing",
        when=Interval(every=60, period="seconds"),
        description="Alert when audit events wait unsealed longer than AUDIT_UNSEALED_ALERT_SECONDS.",
    ),
    # Data safety (apps.safety): the backups' and drills' own schedules come from the backup policy (rows named
    # "Backup policy: …"); these keep the repository current whatever the policy says. Every 15 s Barman moves
    # the WAL the server archived into the repository (compressed and encrypted), so a segment waits there
    # unencrypted for seconds and the RPO stays the server's archive_timeout plus that.
    Schedule(
        name="Archive WAL into the backup repository",
        task="safety.archive_wal",
        when=Interval(every=15, period="seconds"),
        description="Barman archive-wal: compress and encrypt the WAL segments PostgreSQL archived.",
    ),
    # The stale-backup alert: no good backup within the policy's age, WAL archiving failing or late.
    Schedule(
        name="Check backup freshness",
        task="safety.check_freshness",
        when=Interval(every=5, period="minutes"),
        description="Alert when the last good backup or the last archived WAL is older than the policy allows.",
    ),
    # Retention tiers, pins and legal holds: daily after the night's backups (02:17 by default).
    Schedule(
        name="Apply backup retention (daily)",
        task="safety.retention",
        when=Crontab(minute="53", hour="5"),
        description="Delete backups that no retention tier, pin or legal hold keeps (Barman deletes the files).",
    ),
    # FinOps (apps.finops): usage is counted in Redis on the request path; every 30 s it is folded into PostgreSQL
    # (a batch at a time, each recorded with the quantities it adds, so a worker killed mid-fold loses nothing) and
    # the budgets' thresholds are checked. The 10-minute check catches forecasts and raises that lapsed with no new
    # usage; storage is sampled once a day.
    Schedule(
        name="Fold metered usage",
        task="finops.fold",
        when=Interval(every=30, period="seconds"),
        description="Fold the Redis usage counters into PostgreSQL, then send budget threshold alerts due.",
    ),
    Schedule(
        name="Check budget alerts",
        task="finops.alerts_check",
        when=Interval(every=10, period="minutes"),
        description="Threshold and forecast alerts for every budget, once per budget, threshold and period.",
    ),
    Schedule(
        name="Sample tenant storage (daily)",
        task="finops.storage_sample",
        when=Crontab(minute="37", hour="0"),
        description="Each tenant's PostgreSQL, graph store and backup bytes today, as GB-days.",
    ),
    # Quarterly access reviews (plan D-3): on the first day of each quarter at 06:07 UTC, every active tenant
    # without a review of the new quarter gets one (its population frozen then). Compliance staff may also launch
    # one in the admin; the task leaves a tenant that has one alone.
    Schedule(
        name="Launch the quarterly access reviews",
        task="compliance.access_reviews_launch",
        when=Crontab(minute="7", hour="6", day_of_month="1", month_of_year="1,4,7,10"),
        description="Launch this quarter's access review of every active tenant that has none yet.",
    ),
    # Reminders in the last week before a review is due, the "access review overdue" alert and the escalation to
    # the tenant's administrators after: each at most once a day, so daily at 08:23 UTC (office hours in Europe).
    Schedule(
        name="Remind access reviewers (daily)",
        task="compliance.access_reviews_remind",
        when=Crontab(minute="23", hour="8"),
        description="E-mail reviewers of access reviews due within a week; alert and escalate overdue ones.",
    ),
)


@dataclass
class ScheduleSyncReport:
    """What a sync changed, by schedule name; all empty when the database already matched the code."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)


def schedules_sync(*, schedules: tuple[Schedule, ...] = SCHEDULES, using: str = DEFAULT_DB_ALIAS) -> ScheduleSyncReport:
    """Make django-celery-beat's periodic tasks exactly ``schedules``; idempotent (a second run changes nothing).

    The code is the source of each schedule's timing and of what it runs: task, interval or crontab, arguments,
    queue, description and one-off flag are set from ``schedules``, so an edit of those in the admin lasts until
    the next migrate. The admin may disable a task: ``enabled`` is set only when a row is created and is kept
    on every later sync, so a schedule switched off in the admin stays off. Delivery options the list does not
    declare (expiry, priority, headers, start time) and beat's bookkeeping (last run, run count) are kept.
    Rows that are not declared are removed (a schedule added in the admin lasts until the next migrate: add it
    here instead), except beat's own housekeeping task. Rows are written through the model so beat notices.
    """
    names = [schedule.name for schedule in schedules]
    if len(set(names)) != len(names):
        raise ValueError(f"schedule names must be unique: {names}")
    report = ScheduleSyncReport()
    tasks = PeriodicTask.objects.using(using)
    with transaction.atomic(using=using):
        for schedule in schedules:
            _upsert(schedule, report, using=using)
        stale_rows = tasks.exclude(name__in=names).exclude(task__in=CELERY_HOUSEKEEPING)
        for prefix in DERIVED_PREFIXES:
            stale_rows = stale_rows.exclude(name__startswith=prefix)
        for row in stale_rows:
            row.delete(using=using)
            report.removed.append(row.name)
    return report


# Schedules another part derives from its own configuration (the backup policy's full, incremental and drill
# schedules, apps.safety): ``schedules_sync`` leaves rows whose name starts with a registered prefix alone, and
# the owner keeps them in step with ``derived_schedules_sync`` whenever its configuration changes.
DERIVED_PREFIXES: set[str] = set()


def derived_schedules_sync(
    *, prefix: str, schedules: tuple[Schedule, ...], using: str = DEFAULT_DB_ALIAS
) -> ScheduleSyncReport:
    """Make the periodic tasks named ``prefix…`` exactly ``schedules`` (each name must start with ``prefix``)."""
    if prefix not in DERIVED_PREFIXES:
        raise ValueError(f"register {prefix!r} in DERIVED_PREFIXES first, or schedules_sync removes its rows")
    names = [schedule.name for schedule in schedules]
    if any(not name.startswith(prefix) for name in names):
        raise ValueError(f"every derived schedule's name must start with {prefix!r}: {names}")
    report = ScheduleSyncReport()
    with transaction.atomic(using=using):
        for schedule in schedules:
            _upsert(schedule, report, using=using)
        for row in PeriodicTask.objects.using(using).filter(name__startswith=prefix).exclude(name__in=names):
            row.delete(using=using)
            report.removed.append(row.name)
    return report


def _upsert(schedule: Schedule, report: ScheduleSyncReport, *, using: str) -> None:
    tasks = PeriodicTask.objects.using(using)
    wanted = _wanted_fields(schedule, using=using)
    row = tasks.filter(name=schedule.name).first()
    if row is None:
        PeriodicTask(name=schedule.name, enabled=True, **wanted).save(using=using)
        report.created.append(schedule.name)
        return
    stale = {name: value for name, value in wanted.items() if getattr(row, name) != value}
    if stale:
        for name, value in stale.items():
            setattr(row, name, value)
        row.save(using=using)
        report.updated.append(schedule.name)


def schedules_table_ready(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether django-celery-beat's tables exist (not so after ``migrate django_celery_beat zero``)."""
    connection = connections[using]
    return PeriodicTask._meta.db_table in connection.introspection.table_names()


def _wanted_fields(schedule: Schedule, *, using: str) -> dict:
    interval = crontab = None
    if isinstance(schedule.when, Interval):
        interval = _interval_row(schedule.when, using=using)
    else:
        crontab = _crontab_row(schedule.when, using=using)
    return {
        "task": schedule.task,
        "interval": interval,
        "crontab": crontab,
        "solar": None,
        "clocked": None,
        "one_off": False,
        "args": "[]",
        "kwargs": "{}",
        "queue": schedule.queue,
        "description": schedule.description,
    }


def _interval_row(interval: Interval, *, using: str) -> IntervalSchedule:
    # No unique constraint on these tables: reuse the oldest equal row, as an admin may have made a duplicate.
    rows = IntervalSchedule.objects.using(using)
    values = {"every": interval.every, "period": interval.period}
    return rows.filter(**values).order_by("id").first() or rows.create(**values)


def _crontab_row(crontab: Crontab, *, using: str) -> CrontabSchedule:
    rows = CrontabSchedule.objects.using(using)
    values = {
        "minute": crontab.minute,
        "hour": crontab.hour,
        "day_of_week": crontab.day_of_week,
        "day_of_month": crontab.day_of_month,
        "month_of_year": crontab.month_of_year,
        "timezone": crontab.timezone,
    }
    return rows.filter(**values).order_by("id").first() or rows.create(**values)
