from django.db import models


class BackupKind(models.TextChoices):
    FULL = "full", "full"
    INCREMENTAL = "incremental", "incremental (block-level, since its parent)"


class BackupStatus(models.TextChoices):
    RUNNING = "running", "running"
    GOOD = "good", "good"
    BAD = "bad", "bad (failed verification)"
    FAILED = "failed", "failed"
    DELETED = "deleted", "deleted by retention"


class RetentionPeriod(models.TextChoices):
    DAILY = "daily", "daily"
    WEEKLY = "weekly", "weekly"
    MONTHLY = "monthly", "monthly"
    YEARLY = "yearly", "yearly"


class DrillStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    PASSED = "passed", "passed"
    FAILED = "failed", "failed"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "schedule"
    ADMIN = "admin", "admin"
    COMMAND = "command", "command line"
