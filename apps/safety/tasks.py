"""Scheduled and requested data-safety work. Tasks stay thin: they call the services and the drill runner."""

import logging

from celery import shared_task
from django.utils import timezone

from apps.safety import drills, services
from apps.safety.choices import BackupKind, Trigger
from apps.safety.errors import DrillBusy, SafetyError, TargetError
from apps.safety.models import BackupPolicy

logger = logging.getLogger(__name__)


def _scheduled_backup(kind: str) -> dict:
    policy = BackupPolicy.current()
    if not policy.in_window(timezone.now()):
        # Beat follows the policy's crontab; a crontab outside the window is the policy's own contradiction.
        logger.warning("scheduled %s backup skipped: outside the maintenance window", kind)
        return {"skipped": "outside the maintenance window"}
    try:
        backup = services.backup_take(kind=kind, trigger=Trigger.SCHEDULE)
    except SafetyError as exc:  # recorded, audited and alerted by the service
        return {"failed": str(exc)}
    return {"backup": backup.backup_id, "seconds": backup.duration_seconds}


@shared_task(name="safety.backup_full")
def backup_full() -> dict:
    return _scheduled_backup(BackupKind.FULL)


@shared_task(name="safety.backup_incremental")
def backup_incremental() -> dict:
    return _scheduled_backup(BackupKind.INCREMENTAL)


@shared_task(name="safety.backup_take")
def backup_take(kind: str, user_id: int | None = None) -> dict:
    """A backup asked for in the admin (outside the window too: a person decided)."""
    from django.contrib.auth import get_user_model

    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        backup = services.backup_take(kind=kind, trigger=Trigger.ADMIN, actor=actor)
    except SafetyError as exc:
        return {"failed": str(exc)}
    return {"backup": backup.backup_id}


@shared_task(name="safety.restore_drill_run")
def restore_drill_run(drill_id: int) -> dict:
    drill = drills.drill_run(drill_id)
    return {"drill": drill.pk, "status": drill.status, "rto_seconds": drill.rto_seconds}


@shared_task(name="safety.restore_drill_scheduled")
def restore_drill_scheduled() -> dict:
    try:
        drill = drills.drill_request(trigger=Trigger.SCHEDULE)
    except (DrillBusy, TargetError) as exc:
        return {"skipped": str(exc)}
    return {"queued": drill.pk}


@shared_task(name="safety.archive_wal")
def archive_wal() -> None:
    services.archive_wal()


@shared_task(name="safety.check_freshness")
def check_freshness() -> dict:
    return {"problems": services.freshness_check()}


@shared_task(name="safety.retention")
def retention() -> dict:
    return services.retention_apply()
