"""Data safety records: the backup policy (E-3), the backups Barman took, graph snapshots, restore points and
restore drills (E-1).

The policy is one row (``BackupPolicy.current()``), edited in the admin with its history (django-simple-history)
and every change audited. Barman's own catalogue (under ``BACKUP_DIR``) is the truth about what is on disk; a
``Backup`` row mirrors one Barman backup with what the product adds: the SHA-256 of every file (so a flipped
byte is found without decrypting), its verification, pins and legal holds, and the retention tier keeping it.
"""

import datetime

from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from apps.safety.choices import BackupKind, BackupStatus, DrillStatus, RetentionPeriod, Trigger


def validate_cron(value: str) -> None:
    """Five crontab fields, minute hour day-of-month month day-of-week (UTC), as Celery beat reads them."""
    parts = value.split()
    if len(parts) != 5:
        raise ValidationError(
            "Give five crontab fields: minute hour day-of-month month day-of-week, e.g. “17 2 * * 0”.",
            code="cron",
        )
    minute, hour, day_of_month, month_of_year, day_of_week = parts
    try:
        crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
        ).remaining_estimate(datetime.datetime.now(datetime.UTC))
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"Not a crontab line Celery beat can run: {exc}.", code="cron") from None


class BackupPolicy(models.Model):
    """How PostgreSQL is backed up and drilled: schedules, encryption, retention, window, throughput, limits."""

    name = models.CharField(max_length=40, unique=True, default="default", editable=False)
    full_schedule = models.CharField(
        max_length=80,
        default="17 2 * * 0",
        validators=[validate_cron],
        help_text="Full base backups (crontab, UTC). Default: Sundays 02:17.",
    )
    incremental_schedule = models.CharField(
        max_length=80,
        blank=True,
        default="17 2 * * 1-6",
        validators=[validate_cron],
        help_text="Block-level incremental backups since the last backup (crontab, UTC); blank: none. "
        "Default: Monday to Saturday 02:17.",
    )
    wal_archive_timeout_seconds = models.PositiveIntegerField(
        "WAL archive timeout (seconds)",
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text="Continuous WAL archiving: the longest a finished transaction waits before its WAL is archived "
        "(PostgreSQL archive_timeout; the embedded server is started with 30 s). Bounds the RPO.",
    )
    drill_schedule = models.CharField(
        max_length=80,
        blank=True,
        default="47 5 * * 6",
        validators=[validate_cron],
        help_text="Scheduled restore drills (crontab, UTC); blank: on demand only. Default: Saturdays 05:47.",
    )
    window_start = models.TimeField(
        default=datetime.time(1, 0), help_text="Maintenance window start (UTC): scheduled backups start only inside."
    )
    window_end = models.TimeField(
        default=datetime.time(5, 0), help_text="Maintenance window end (UTC); may be before the start (over midnight)."
    )
    throughput_limit_mb_s = models.PositiveIntegerField(
        "throughput limit (MB/s)",
        default=0,
        validators=[MaxValueValidator(100_000)],
        help_text="Cap on the base backup's read rate in MB/s (Barman bandwidth_limit), so a backup does not take "
        "the disk from searches (risk R3); 0: no cap.",
    )
    rto_limit_seconds = models.PositiveIntegerField(
        "RTO limit (seconds)",
        default=1800,
        validators=[MinValueValidator(60)],
        help_text="A drill slower than this (start of restore to the restored product answering) fails and alerts "
        "(the plan's “restore > 30 min”).",
    )
    rpo_limit_seconds = models.PositiveIntegerField(
        "RPO limit (seconds)",
        default=60,
        validators=[MinValueValidator(1)],
        help_text="A drill that loses more than this fails and alerts.",
    )
    max_backup_age_hours = models.PositiveIntegerField(
        "max backup age (hours)",
        default=26,
        validators=[MinValueValidator(1)],
        help_text="The stale-backup alert fires when the last good backup is older than this.",
    )
    max_wal_age_seconds = models.PositiveIntegerField(
        "max WAL age (seconds)",
        default=300,
        validators=[MinValueValidator(10)],
        help_text="The stale-backup alert fires when WAL archiving fails or the last archived WAL is older than "
        "this while the database is being written.",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "backup policy"
        verbose_name_plural = "backup policy"

    def __str__(self) -> str:
        return "Backup policy"

    @classmethod
    def current(cls) -> "BackupPolicy":
        policy = cls.objects.filter(name="default").first()
        if policy is None:
            policy, _ = cls.objects.get_or_create(name="default")
            for period, keep in DEFAULT_TIERS:
                RetentionTier.objects.get_or_create(policy=policy, period=period, defaults={"keep": keep})
        return policy

    def clean(self) -> None:
        if self.window_start == self.window_end:
            raise ValidationError(
                {"window_end": "The window's end must differ from its start (a 24-hour window: 00:00 to 23:59)."}
            )

    def in_window(self, moment: datetime.datetime) -> bool:
        now = moment.astimezone(datetime.UTC).time()
        if self.window_start < self.window_end:
            return self.window_start <= now < self.window_end
        return now >= self.window_start or now < self.window_end


DEFAULT_TIERS = (
    (RetentionPeriod.DAILY, 14),
    (RetentionPeriod.WEEKLY, 8),
    (RetentionPeriod.MONTHLY, 12),
    (RetentionPeriod.YEARLY, 7),
)


class RetentionTier(models.Model):
    """Keep the newest good backup of each of the last ``keep`` days (weeks, months, years)."""

    policy = models.ForeignKey(BackupPolicy, on_delete=models.CASCADE, related_name="tiers")
    period = models.CharField(max_length=8, choices=RetentionPeriod.choices)
    keep = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(1000)], help_text="How many of these periods to keep."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["policy", "period"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "period"],
                name="retention_tier_one_per_period",
                violation_error_message="The policy has a tier of that period already.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.period}: keep {self.keep}"


class Backup(models.Model):
    """One Barman base backup (full or incremental), with its files' checksums, verification and keeping."""

    backup_id = models.CharField(max_length=40, unique=True, help_text="Barman's backup id.")
    kind = models.CharField(max_length=12, choices=BackupKind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    status = models.CharField(max_length=8, choices=BackupStatus.choices, default=BackupStatus.RUNNING)
    trigger = models.CharField(max_length=8, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    consistent_at = models.DateTimeField(
        null=True, blank=True, help_text="The backup's end: the earliest time it can be recovered to."
    )
    size_bytes = models.BigIntegerField(default=0, help_text="On disk: compressed and encrypted.")
    cluster_size_bytes = models.BigIntegerField(default=0)
    begin_lsn = models.CharField(max_length=20, blank=True)
    end_lsn = models.CharField(max_length=20, blank=True)
    begin_wal = models.CharField(max_length=24, blank=True)
    end_wal = models.CharField(max_length=24, blank=True)
    timeline = models.PositiveIntegerField(default=1)
    system_identifier = models.CharField(max_length=24, blank=True)
    pg_version = models.CharField(max_length=12, blank=True)
    encryption = models.CharField(max_length=300, blank=True, help_text="Cipher and key of the backup's files.")
    files = models.JSONField(default=dict, blank=True, help_text="Each file's SHA-256 and size, by path.")
    pinned = models.BooleanField(default=False, help_text="Kept whatever the retention tiers say.")
    legal_hold = models.BooleanField(default=False, help_text="Kept, and not unpinned, until the hold is lifted.")
    hold_reason = models.CharField(max_length=300, blank=True)
    tier = models.CharField(max_length=40, blank=True, help_text="Why retention keeps it (last run).")
    verified_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "-started_at"], name="backup_status_idx")]

    def __str__(self) -> str:
        return f"{self.backup_id} ({self.kind}, {self.status})"

    @property
    def kept(self) -> bool:
        return self.pinned or self.legal_hold


class GraphSnapshot(models.Model):
    """A copy of the graph store's own persistence (FalkorDB's RDB file) at a known outbox position."""

    taken_at = models.DateTimeField()
    path = models.CharField(max_length=500)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    outbox_position = models.BigIntegerField(help_text="Highest outbox row id when the store was forked.")
    pending_outbox = models.BigIntegerField(default=0, help_text="Outbox rows not yet applied at that moment.")
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"graph snapshot {self.taken_at:%Y-%m-%d %H:%M:%S} @ outbox {self.outbox_position}"


class RestorePoint(models.Model):
    """A named point in the WAL (``pg_create_restore_point``) with every table's row count and content checksum,
    per tenant, as of exactly that point, and a graph snapshot forked at the same moment."""

    name = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField()
    lsn = models.CharField(max_length=20)
    checksums = models.JSONField(default=dict)
    checksum_seconds = models.FloatField(default=0)
    lock_wait_seconds = models.FloatField(default=0, help_text="How long writers were held for the point.")
    outbox_position = models.BigIntegerField(default=0)
    graph_snapshot = models.ForeignKey(
        GraphSnapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="restore_points"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.created_at:%Y-%m-%d %H:%M:%S})"


class RestoreDrill(models.Model):
    """One restore drill into a scratch instance: each step timed, the report signed (Ed25519, the audit key)."""

    status = models.CharField(max_length=8, choices=DrillStatus.choices, default=DrillStatus.QUEUED)
    trigger = models.CharField(max_length=8, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_target = models.DateTimeField(
        null=True, blank=True, help_text="The time asked for; empty: a restore point taken when the drill starts."
    )
    backup = models.ForeignKey(Backup, null=True, blank=True, on_delete=models.SET_NULL, related_name="drills")
    restore_point = models.ForeignKey(
        RestorePoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="drills"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    current_step = models.CharField(max_length=40, blank=True)
    steps = models.JSONField(default=list, blank=True)
    rto_seconds = models.FloatField(null=True, blank=True)
    rpo_seconds = models.FloatField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)
    signature = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"restore drill #{self.pk} ({self.status})"
