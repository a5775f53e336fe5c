"""Backups and restore drills end to end on the embedded servers: Barman, GnuPG, a scratch PostgreSQL and
FalkorDB, the product probing the restored copy. Transactional tests: the restore point and the backup read
the database from connections of their own, as they do in production."""

import datetime
import os
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.models import Entity
from apps.safety import drills, engine, services
from apps.safety.choices import BackupStatus, DrillStatus, Trigger
from apps.safety.errors import DrillBusy, EncryptionKeyError, SafetyError, TargetError
from apps.safety.models import Backup, BackupPolicy, RestoreDrill
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("barman_cleanup")]


def _drill(target=None) -> RestoreDrill:
    return drills.drill_run(drills.drill_create(trigger=Trigger.COMMAND, target=target).pk)


def _entities(tenant, count: int, prefix: str) -> None:
    for index in range(count):
        factories.entity(tenant=tenant, name=f"{prefix} {index}")


def test_a_pitr_drill_restores_to_the_time_and_proves_it(settings):
    # Given a tenant with 5 entities, a backup, then a burst of 4 more, the target time, and 3 after it
    tenant = factories.tenant(slug="drill-acme")
    other = factories.tenant(slug="drill-other")
    _entities(tenant, 5, "Before Backup")
    _entities(other, 3, "Other Tenant Person")
    backup = services.backup_take()
    assert backup.status == BackupStatus.GOOD and backup.files and backup.consistent_at
    assert all(len(item["sha256"]) == 64 for item in backup.files.values())
    assert AuditEvent.objects.filter(event_type="backup.taken", target_id=str(backup.pk)).exists()
    _entities(tenant, 4, "Burst Write")
    time.sleep(1.2)
    target = timezone.now()
    time.sleep(1.2)
    _entities(tenant, 3, "After Target")
    live_before = services.live_identity()

    # When a drill recovers to the target time
    drill = _drill(target)

    # Then every step passed, and the restored PostgreSQL held the 9 entities of the target time, not 12
    assert drill.status == DrillStatus.PASSED, (drill.error, drill.steps)
    assert [step["status"] for step in drill.steps] == ["passed"] * len(drills.STEPS)
    report = drill.report
    assert report["graph"]["tenants"]["drill-acme"]["nodes"] == 9
    assert report["graph"]["tenants"]["drill-other"]["nodes"] == 3
    assert Entity.objects.filter(tenant=tenant).count() == 12  # the live data is untouched
    # the rows at the restore point matched the source's, table by table and tenant by tenant
    assert report["logical"]["restored_equal"] is True and report["logical"]["tenants"]
    assert report["physical"]["data_checksums"] == "on"
    assert report["physical"]["pg_verifybackup"]["ok"] is True
    amchecked = report["physical"]["amcheck_indexes"][settings.DATABASES["default"]["NAME"]]
    assert isinstance(amchecked, int) and amchecked > 50
    # the product answered on the restored copy; search as one tenant's reader found nothing of the other's
    assert report["probes"]["readyz_status"] == 200 and report["probes"]["audit"] == "verified"
    assert report["probes"]["isolation_pairs"] >= 1
    assert all(pair["leaked"] == 0 and pair["searched"] for pair in report["probes"]["isolation"])
    # the figures: RTO from the restore's start to readyz, RPO from the target to the last transaction recovered
    assert 0 < drill.rto_seconds < 600
    assert drill.rpo_seconds is not None and 0 <= drill.rpo_seconds < 5
    # the report is signed with the audit key, and any change to it breaks the signature
    assert drills.report_problem(drill) is None
    drill.report["rto_seconds"] = 1.0
    assert drills.report_problem(drill) is not None
    # the live server is the same one, on the same port, never restarted; the scratch ones were elsewhere
    assert services.live_identity() == live_before
    assert report["scratch"]["postgres_port"] != live_before["port"]
    assert not Path(report["scratch"]["folder"]).exists()
    events = set(AuditEvent.objects.filter(target_id=str(drill.pk)).values_list("event_type", flat=True))
    assert {"drill.started", "drill.passed"} <= events


def test_a_corrupted_backup_fails_the_drill_loudly_and_the_previous_one_is_offered(settings, outbox_alerts):
    # Given two good backups, and a flipped byte in the newer one's base backup file
    older = services.backup_take(restore_point=False)
    newer = services.backup_take()
    name = next(name for name in newer.files if name.endswith(".gpg"))
    path = engine.server_dir() / "base" / newer.backup_id / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    # When a drill runs
    drill = _drill()

    # Then it fails at its first step, naming the file; the backup is marked bad; the older one is offered
    assert drill.status == DrillStatus.FAILED
    assert str(path) in drill.error and "corrupted" in drill.error
    assert older.backup_id in drill.error
    newer.refresh_from_db()
    assert newer.status == BackupStatus.BAD and str(path) in newer.error
    assert drill.steps[0]["status"] == "failed" and drill.steps[1]["status"] == "pending"
    assert drills.report_problem(drill) is None  # a failed drill's report is signed too
    assert any("Restore drill failed" in subject for subject in outbox_alerts())
    assert AuditEvent.objects.filter(event_type="backup.marked_bad", target_id=str(newer.pk)).exists()


def test_a_target_past_a_missing_wal_segment_is_refused_with_the_latest_reachable_time():
    # Given a backup and WAL archived after it, with one segment gone from the repository
    backup = services.backup_take(restore_point=False)
    with services.live_connect(autocommit=True) as conn:
        for _ in range(3):
            conn.execute("SELECT pg_switch_wal()")
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS t (x int); INSERT INTO t VALUES (1)")
    engine.barman("switch-wal", "--force", "--archive", "--archive-timeout", "120", "intelgraph")
    reachable_before = drills.latest_reachable(backup)
    assert reachable_before is None  # unbroken so far
    names = [name for name, _ in drills.wal_catalogue() if name > backup.end_wal]
    gap = names[0]
    wal = engine.server_dir() / "wals" / gap[:16] / gap
    moved = wal.with_name(gap + ".moved-by-test")
    wal.rename(moved)
    try:
        reachable = drills.latest_reachable(backup)
        assert reachable["missing"] == gap
        # When a drill asks for a time after the gap
        drill = _drill(timezone.now())
    finally:
        moved.rename(wal)
    # Then it is refused before anything is restored, with the latest time the WAL reaches
    assert drill.status == DrillStatus.FAILED
    assert f"missing {gap}" in drill.error and "the latest reachable time is" in drill.error
    assert drill.steps[1]["status"] == "pending"


def test_impossible_targets_get_clear_errors_and_change_nothing():
    # Given no good backup
    with pytest.raises(TargetError, match="there is no good backup"):
        drills.drill_request(target=None)
    old = factories.backup(started_at=timezone.now() - datetime.timedelta(days=2))
    future = timezone.now() + datetime.timedelta(hours=1)
    with pytest.raises(TargetError, match="is in the future"):
        drills.drill_request(target=future)
    with pytest.raises(TargetError, match="before the oldest backup: the earliest recoverable time is"):
        drills.drill_request(target=old.consistent_at - datetime.timedelta(minutes=1))
    with pytest.raises(CommandError, match="not a date and time"):
        call_command("restore_drill", "--target-time", "yesterday")
    with pytest.raises(CommandError, match="give the time zone"):
        call_command("restore_drill", "--target-time", "2026-12-04T10:00:00")
    with pytest.raises(CommandError, match="in the future"):
        call_command("restore_drill", "--target-time", future.isoformat())
    assert RestoreDrill.objects.count() == 0


def test_two_drills_never_run_at_once():
    factories.backup()
    first = drills.drill_request()
    with pytest.raises(DrillBusy, match=f"restore drill #{first.pk} is queued"):
        drills.drill_request()
    first.status = DrillStatus.FAILED
    first.save()
    # a drill that starts while another holds the installation's drill lock fails at once, touching nothing
    with services.live_connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [drills.DRILL_LOCK_KEY])
        second = RestoreDrill.objects.create(trigger=Trigger.COMMAND, steps=[])
        second = drills.drill_run(second.pk)
    assert second.status == DrillStatus.FAILED and "another restore drill is running" in second.error
    assert second.started_at is None


def test_a_wrong_or_missing_key_is_said_at_once_and_nothing_is_written(settings, tmp_path):
    settings.BACKUP_GPG_PASSPHRASE = "not the passphrase"
    with pytest.raises(EncryptionKeyError, match="does not unlock the backup key"):
        services.backup_take()
    assert Backup.objects.count() == 0
    settings.BACKUP_GPG_PASSPHRASE = ""
    settings.BACKUP_GNUPG_HOME = tmp_path / "empty-keyring"
    settings.BACKUP_GPG_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nnot a key\n-----END PGP PRIVATE KEY BLOCK-----\n"
    with pytest.raises(EncryptionKeyError, match="not an OpenPGP key GnuPG can import"):
        services.backup_take()
    assert Backup.objects.count() == 0


def test_an_unreachable_repository_fails_the_backup_never_good_and_alerts(settings, tmp_path, outbox_alerts):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the repository should be")
    settings.BACKUP_DIR = blocker / "backups"
    with pytest.raises(SafetyError, match="backup failed"):
        services.backup_take()
    backup = Backup.objects.get()
    assert backup.status == BackupStatus.FAILED and backup.error
    assert "Backup failed" in outbox_alerts()
    assert AuditEvent.objects.filter(event_type="backup.failed").exists()


def test_the_live_database_is_never_a_scratch_target(tmp_path):
    from apps.safety.scratch import ScratchPostgres

    live = services.live_identity()
    same_port = ScratchPostgres(root=tmp_path / "s", live=live, port=live["port"])
    with pytest.raises(SafetyError, match="live database's port"):
        same_port.refuse_live()
    inside = ScratchPostgres(root=Path(live["data_directory"]) / "x", live=live, port=1)
    with pytest.raises(SafetyError, match="live data directory"):
        inside.refuse_live()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=1, connect_timeout=1)


def test_a_full_repository_disk_fails_the_backup_never_good_and_alerts(tmp_path, outbox_alerts):
    if os.geteuid() != 0:
        pytest.skip("a small filesystem for the repository needs root (mount -t tmpfs)")
    # given a repository whose backup volume has 2 MiB left (a tmpfs mounted over Barman's base folder; the WAL
    # archive beside it keeps working, as on a real installation whose backup volume filled up)
    engine.config_write(BackupPolicy.current())
    engine.barman("check", settings.BACKUP_SERVER_NAME, "--nagios", check=False)
    base = engine.server_dir() / "base"
    base.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(base)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        # when a backup is taken
        with pytest.raises(SafetyError, match="backup failed"):
            services.backup_take()
        # then it failed, is never good, says why, and the operators were told
        backup = Backup.objects.get()
        assert backup.status == BackupStatus.FAILED and backup.verified_at is None
        assert "No space left on device" in backup.error or "MiB free" in backup.error, backup.error
        assert "Backup failed" in outbox_alerts()
        listed = engine.barman_json("list-backups", settings.BACKUP_SERVER_NAME)
        assert all(
            row.get("status") != "DONE"
            for row in listed
            if backup.backup_id in (row.get("backup_id"), row.get("backup_name"))
        )
    finally:
        subprocess.run(["umount", "-l", str(base)], capture_output=True)
