"""Backups, graph snapshots, restore points, retention and the freshness alert (plan E-1, E-3; ADR 0011).

Barman does the work (``apps.safety.engine``); these services decide when, record what happened in
``apps.safety.models``, audit it, and refuse what must not happen: a backup without a working encryption key, a
backup never marked good unless Barman says DONE and its files are checksummed, a pinned or held backup deleted.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import psycopg
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.safety import checksums, engine
from apps.safety.choices import BackupKind, BackupStatus, RetentionPeriod, Trigger
from apps.safety.errors import BackupEngineError, SafetyError
from apps.safety.models import Backup, BackupPolicy, GraphSnapshot, RestorePoint
from intelgraph import alerts, metrics

logger = logging.getLogger(__name__)

SCHEDULE_PREFIX = "Backup policy: "
LOCK_TIMEOUT_MS = 3000
LOCK_ATTEMPTS = 5


# --------------------------------------------------------------------------- policy


def policy_schedules(policy: BackupPolicy):
    """The Celery beat entries the policy implies: full, incremental and drill schedules (UTC crontabs)."""
    from intelgraph.schedules import Crontab, Schedule

    def crontab(line: str) -> Crontab:
        minute, hour, day_of_month, month_of_year, day_of_week = line.split()
        return Crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
        )

    wanted = [
        Schedule(
            name=f"{SCHEDULE_PREFIX}full backup",
            task="safety.backup_full",
            when=crontab(policy.full_schedule),
            description="Full base backup of PostgreSQL (Barman), inside the policy's maintenance window.",
        )
    ]
    if policy.incremental_schedule:
        wanted.append(
            Schedule(
                name=f"{SCHEDULE_PREFIX}incremental backup",
                task="safety.backup_incremental",
                when=crontab(policy.incremental_schedule),
                description="Block-level incremental backup since the last good one, inside the maintenance window.",
            )
        )
    if policy.drill_schedule:
        wanted.append(
            Schedule(
                name=f"{SCHEDULE_PREFIX}restore drill",
                task="safety.restore_drill_scheduled",
                when=crontab(policy.drill_schedule),
                description="Restore drill into a scratch instance; signed report; alerts past the policy's RTO.",
            )
        )
    return tuple(wanted)


def policy_applied(policy: BackupPolicy) -> None:
    """Make Barman's configuration and the beat schedules follow the policy (after every change and migrate)."""
    from intelgraph.schedules import derived_schedules_sync, schedules_table_ready

    if schedules_table_ready():
        derived_schedules_sync(prefix=SCHEDULE_PREFIX, schedules=policy_schedules(policy))
    try:
        engine.config_write(policy)
    except SafetyError as exc:  # a key problem is reported by the backup that needs it, not by a migrate
        logger.warning("Barman configuration not written: %s", exc)


def policy_changed(*, actor, policy: BackupPolicy, before: dict, what: str = "policy") -> None:
    """Audit a change of the policy or one of its tiers (the admin saved it), then apply it."""
    after = policy_fields(policy)
    changed = {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}
    if changed:
        audit.record(
            "backup.policy_changed",
            actor=actor,
            target=policy,
            payload={"what": what, "changed": changed},
        )
    transaction.on_commit(lambda: policy_applied(BackupPolicy.current()))


def policy_fields(policy: BackupPolicy) -> dict:
    fields = {
        field.name: str(getattr(policy, field.name))
        for field in policy._meta.concrete_fields
        if field.name not in ("id", "name")
    }
    fields["tiers"] = {tier.period: tier.keep for tier in policy.tiers.all()} if policy.pk else {}
    return fields


# --------------------------------------------------------------------------- the live database, directly


def live_connect(*, autocommit: bool = False) -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        autocommit=autocommit,
        application_name="intelgraph-safety",
        sslmode=(db.get("OPTIONS") or {}).get("sslmode", "prefer"),
    )


def live_identity() -> dict:
    """The live server's system identifier, address and start time: a drill must never change any of them."""
    with live_connect(autocommit=True) as conn:
        system_id, started, port, data_dir = conn.execute(
            "SELECT (pg_control_system()).system_identifier::text, pg_postmaster_start_time()::text,"
            " current_setting('port'), current_setting('data_directory')"
        ).fetchone()
        standby = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes',"
                " 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')"
            ).fetchall()
        )
    db = settings.DATABASES["default"]
    return {
        "standby_settings": standby,
        "system_identifier": system_id,
        "started_at": started,
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(port),
        "data_directory": data_dir,
    }


# --------------------------------------------------------------------------- backups


def _files_of(backup_id: str) -> dict:
    folder = engine.server_dir() / "base" / backup_id
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(folder))] = {"sha256": _sha256(path), "size": path.stat().st_size}
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _latest_good() -> Backup | None:
    return Backup.objects.filter(status=BackupStatus.GOOD).order_by("-started_at").first()


def _new_backup_id(before: set[str]) -> str | None:
    listed = engine.barman_json("list-backups", settings.BACKUP_SERVER_NAME)
    ids = {row.get("backup_id") for row in listed} if isinstance(listed, list) else set()
    new = sorted(ids - before - {None})
    return new[-1] if new else None


def _backup_done(backup_id: str, *, timeout: float = 180) -> dict:
    """Barman's view of the backup once its WAL is in the repository: DONE, or still WAITING_FOR_WALS after
    ``timeout``. The WAL may be archived by this call or by beat's archive task running at the same moment (which
    then holds Barman's lock), so ask Barman to archive and re-check the backup until it says DONE."""
    deadline = time.monotonic() + timeout
    while True:
        engine.barman("archive-wal", settings.BACKUP_SERVER_NAME, check=False, timeout=600)
        engine.barman("check-backup", settings.BACKUP_SERVER_NAME, backup_id, check=False, timeout=600)
        shown = engine.barman_json("show-backup", settings.BACKUP_SERVER_NAME, backup_id)
        if shown.get("status") != "WAITING_FOR_WALS" or time.monotonic() > deadline:
            return shown
        time.sleep(2)


def _barman_diagnosis() -> str:
    """Why Barman would not start or finish a backup, when all it said was "check the log": its failed checks,
    the errors it logged, and the repository's free space."""
    found = []
    checked = engine.barman("check", settings.BACKUP_SERVER_NAME, check=False, timeout=300)
    found += [line.strip() for line in checked.stdout.splitlines() if "FAILED" in line]
    log = Path(settings.BACKUP_DIR) / "log" / "barman.log"
    try:
        lines = log.read_text(errors="replace").splitlines()[-200:]
    except OSError as exc:
        lines = [f"ERROR cannot read {log}: {exc.strerror}"]
    found += [line.split(" ERROR ", 1)[-1].strip() for line in lines if " ERROR " in line or "ERROR cannot" in line][
        -5:
    ]
    try:
        free = shutil.disk_usage(settings.BACKUP_DIR).free
        found.append(f"the repository {settings.BACKUP_DIR} has {free / 2**20:,.1f} MiB free")
    except OSError as exc:
        found.append(f"the repository {settings.BACKUP_DIR} cannot be read: {exc.strerror}")
    unique = list(dict.fromkeys(found))
    return "".join(f"\n- {line}" for line in unique)


def _barman_ids() -> set[str]:
    listed = engine.barman_json("list-backups", settings.BACKUP_SERVER_NAME)
    return {row.get("backup_id") for row in listed} if isinstance(listed, list) else set()


def backup_take(
    *, kind: str = BackupKind.FULL, trigger: str = Trigger.COMMAND, actor=None, restore_point: bool = True
) -> Backup:
    """Take a base backup with Barman, wait for its WAL, checksum its files, record it good; raises SafetyError.

    The key is probed first (a missing key or wrong passphrase writes nothing). The backup is marked good only
    when Barman reports it DONE and its files are checksummed; any failure leaves it failed, audited and alerted.
    With ``restore_point`` a restore point (checksums of every table, graph snapshot) follows at once, so every
    backup has a verified point a drill can restore to.
    """
    policy = BackupPolicy.current()
    engine.encryption_probe()  # a missing key or a wrong passphrase: said now, nothing written
    parent = None
    if kind == BackupKind.INCREMENTAL:
        parent = _latest_good()
        if parent is None:
            kind = BackupKind.FULL  # nothing to be incremental to: the first backup is a full one
    backup = Backup.objects.create(
        backup_id=f"pending-{uuid.uuid4().hex[:12]}",
        kind=kind,
        parent=parent,
        trigger=trigger,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        started_at=timezone.now(),
        encryption=f"{engine.CIPHER}; key {engine.key_id()}",
    )
    started = time.perf_counter()
    try:
        engine.config_write(policy)
        engine.barman("check", settings.BACKUP_SERVER_NAME, "--nagios", check=False)  # creates Barman's folders
        before = _barman_ids()
        args = ["backup", settings.BACKUP_SERVER_NAME, "--name", backup.backup_id]
        if parent is not None:
            args += ["--incremental", parent.backup_id]
        run = engine.barman(*args, check=False, timeout=6 * 3600)
        new_id = _new_backup_id(before)
        if new_id:
            backup.backup_id = new_id
        if run.returncode != 0:
            raise BackupEngineError(f"barman backup failed: {run.said}{_barman_diagnosis()}")
        if not new_id:
            raise BackupEngineError(f"barman backup gave no new backup: {run.said}")
        # The backup's last WAL segment must reach the repository before it can be restored: switch, archive.
        engine.barman("switch-wal", "--force", "--archive", "--archive-timeout", "120", settings.BACKUP_SERVER_NAME)
        shown = _backup_done(new_id)
        if shown.get("status") != "DONE":
            raise BackupEngineError(f"Barman reports backup {new_id} as {shown.get('status')}, not DONE")
        _fill_from_barman(backup, shown)
        backup.files = _files_of(new_id)
        if not backup.files:
            raise BackupEngineError(f"backup {new_id} has no files in {engine.server_dir() / 'base' / new_id}")
        backup.size_bytes = sum(item["size"] for item in backup.files.values())
        backup.status = BackupStatus.GOOD
        backup.verified_at = timezone.now()
    except (SafetyError, OSError) as exc:
        backup.status = BackupStatus.FAILED
        backup.error = str(exc)[:4000]
    backup.finished_at = timezone.now()
    backup.duration_seconds = round(time.perf_counter() - started, 3)
    backup.save()
    metrics.backup_finished(kind=backup.kind, status=backup.status, seconds=backup.duration_seconds)
    if backup.status != BackupStatus.GOOD:
        audit.record(
            "backup.failed", actor=actor, target=backup, payload={"kind": backup.kind, "error": backup.error[:1000]}
        )
        alerts.alert(
            key="backup-failed",
            subject="Backup failed",
            body=f"The {backup.kind} backup started {backup.started_at:%Y-%m-%d %H:%M} UTC failed and is not "
            f"usable:\n{backup.error}\n\nSee deploy/runbooks/backup-failed.md.",
        )
        raise SafetyError(f"the {backup.kind} backup failed: {backup.error}")
    audit.record(
        "backup.taken",
        actor=actor,
        target=backup,
        payload={
            "backup_id": backup.backup_id,
            "kind": backup.kind,
            "parent": parent.backup_id if parent else None,
            "size_bytes": backup.size_bytes,
            "files": len(backup.files),
            "seconds": backup.duration_seconds,
        },
    )
    if restore_point:
        try:
            restore_point_take(name=f"after-{backup.backup_id}", actor=actor)
        except (SafetyError, psycopg.Error, OSError) as exc:  # the backup is good all the same; drills take their own
            logger.warning("no restore point after backup %s: %s", backup.backup_id, exc)
    return backup


def _fill_from_barman(backup: Backup, shown: dict) -> None:
    info = shown.get("base_backup_information", {})
    backup.begin_lsn = info.get("begin_lsn", "")
    backup.end_lsn = info.get("end_lsn", "")
    backup.begin_wal = info.get("begin_wal", "")
    backup.end_wal = info.get("end_wal", "")
    backup.timeline = info.get("timeline") or 1
    backup.cluster_size_bytes = shown.get("cluster_size_bytes") or 0
    backup.system_identifier = str(shown.get("system_id", ""))
    backup.pg_version = str(shown.get("postgresql_version", ""))
    end = info.get("end_time")
    if end:
        backup.consistent_at = datetime.datetime.fromisoformat(end)


def backup_files_verify(backup: Backup) -> list[str]:
    """Files of the backup that are missing or whose SHA-256 differs from the one recorded when it was taken."""
    folder = engine.server_dir() / "base" / backup.backup_id
    problems = []
    for name, expected in sorted(backup.files.items()):
        path = folder / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != expected["size"] or _sha256(path) != expected["sha256"]:
            problems.append(f"{path}: content differs from the checksum recorded when the backup was taken")
    return problems


def backup_mark_bad(backup: Backup, *, why: str, actor=None) -> Backup | None:
    """Mark a backup bad (audited, alerted); returns the newest good backup before it, the one to use instead."""
    backup.status = BackupStatus.BAD
    backup.error = why[:4000]
    backup.save(update_fields=["status", "error"])
    audit.record("backup.marked_bad", actor=actor, target=backup, payload={"why": why[:1000]})
    previous = (
        Backup.objects.filter(status=BackupStatus.GOOD, started_at__lt=backup.started_at)
        .order_by("-started_at")
        .first()
    )
    alerts.alert(
        key=f"backup-bad-{backup.pk}",
        subject="Backup failed verification",
        body=f"Backup {backup.backup_id} failed verification and is marked bad:\n{why}\n\n"
        + (f"The previous good backup is {previous.backup_id}." if previous else "There is no earlier good backup."),
    )
    return previous


def backup_keep(backup: Backup, *, actor, pinned: bool | None = None, legal_hold: bool | None = None, reason=""):
    """Pin or unpin, hold or release a backup (audited). A held backup cannot be unpinned or released silently."""
    if legal_hold is False and backup.legal_hold and not reason.strip():
        raise SafetyError("Give a reason to lift a legal hold.")
    if legal_hold and not reason.strip():
        raise SafetyError("Give a reason for the legal hold (the matter, the request).")
    if pinned is False and backup.legal_hold:
        raise SafetyError("The backup is under legal hold: lift the hold first.")
    before = {"pinned": backup.pinned, "legal_hold": backup.legal_hold}
    if pinned is not None:
        backup.pinned = pinned
    if legal_hold is not None:
        backup.legal_hold = legal_hold
        backup.hold_reason = reason.strip() if legal_hold else ""
    backup.save(update_fields=["pinned", "legal_hold", "hold_reason"])
    # Barman's own keep annotation, so Barman never deletes it either (its retention is off, ours decides).
    with contextlib.suppress(SafetyError):
        if backup.kept:
            engine.barman("keep", settings.BACKUP_SERVER_NAME, backup.backup_id, "--target", "full")
        else:
            engine.barman("keep", settings.BACKUP_SERVER_NAME, backup.backup_id, "--release")
    audit.record(
        "backup.kept",
        actor=actor,
        target=backup,
        payload={
            "before": before,
            "after": {"pinned": backup.pinned, "legal_hold": backup.legal_hold},
            "reason": reason,
        },
    )
    return backup


# --------------------------------------------------------------------------- retention


def _period_key(moment: datetime.datetime, period: str):
    moment = moment.astimezone(datetime.UTC)
    if period == RetentionPeriod.DAILY:
        return moment.date()
    if period == RetentionPeriod.WEEKLY:
        return moment.isocalendar()[:2]
    if period == RetentionPeriod.MONTHLY:
        return (moment.year, moment.month)
    return moment.year


def retention_plan(*, now: datetime.datetime | None = None) -> tuple[dict[int, str], list[Backup]]:
    """Which good backups each tier keeps (``{pk: reason}``) and which are past every tier (oldest first).

    Each tier keeps the newest good backup of each of its last ``keep`` periods (days, ISO weeks, months, years)
    that have one. Pinned and held backups are always kept, and so is every backup a kept incremental depends
    on; the newest good backup is never deleted.
    """
    now = now or timezone.now()
    good = list(Backup.objects.filter(status=BackupStatus.GOOD).order_by("-started_at"))
    keep: dict[int, str] = {}
    for tier in BackupPolicy.current().tiers.all():
        seen = []
        for backup in good:
            key = _period_key(backup.started_at, tier.period)
            if key in seen:
                continue
            if len(seen) >= tier.keep:
                break
            seen.append(key)
            keep.setdefault(backup.pk, f"{tier.period} ({len(seen)} of {tier.keep})")
    for backup in good:
        if backup.legal_hold:
            keep[backup.pk] = "legal hold"
        elif backup.pinned:
            keep[backup.pk] = "pinned"
    if good:
        keep.setdefault(good[0].pk, "newest good backup")
    by_pk = {backup.pk: backup for backup in good}
    for pk in list(keep):
        parent = by_pk.get(pk)
        while parent is not None and parent.parent_id:
            keep.setdefault(parent.parent_id, f"parent of {parent.backup_id}")
            parent = by_pk.get(parent.parent_id)
    expired = [backup for backup in reversed(good) if backup.pk not in keep]
    return keep, expired


def retention_apply(*, dry_run: bool = False, actor=None) -> dict:
    """Delete the good backups no tier, pin or hold keeps (Barman deletes the files and WAL no longer needed)."""
    keep, expired = retention_plan()
    for backup in Backup.objects.filter(pk__in=keep):
        if backup.tier != keep[backup.pk]:
            backup.tier = keep[backup.pk]
            backup.save(update_fields=["tier"])
    deleted = []
    for backup in expired:
        if backup.children.exclude(status__in=[BackupStatus.DELETED, BackupStatus.FAILED]).exists():
            continue
        if dry_run:
            deleted.append(backup.backup_id)
            continue
        engine.barman("delete", settings.BACKUP_SERVER_NAME, backup.backup_id, check=False)
        backup.status = BackupStatus.DELETED
        backup.tier = ""
        backup.save(update_fields=["status", "tier"])
        audit.record("backup.deleted", actor=actor, target=backup, payload={"backup_id": backup.backup_id})
        deleted.append(backup.backup_id)
    return {"kept": len(keep), "deleted": deleted, "dry_run": dry_run}


# --------------------------------------------------------------------------- restore points


def _graph_redis():
    """A client of the graph store's Redis (FalkorDB), or None when the graph store is not FalkorDB."""
    url = urlparse(settings.GRAPH_URL)
    if url.scheme not in ("falkordb", "redis", "rediss"):
        return None
    import redis

    return redis.Redis(
        host=url.hostname or "127.0.0.1",
        port=url.port or 6379,
        password=url.password,
        ssl=url.scheme == "rediss",
        socket_timeout=30,
    )


def _wait_no_bgsave(client, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while client.info("persistence").get("rdb_bgsave_in_progress"):
        if time.monotonic() > deadline:
            raise SafetyError("the graph store's background save did not finish in time")
        time.sleep(0.05)


def restore_point_take(*, name: str | None = None, actor=None) -> RestorePoint:
    """Mark a point in the WAL with every table's count and checksum, per tenant, as of exactly that point.

    Writers are held for a moment: in one transaction, SHARE locks on every table (writes wait; reads go on),
    the snapshot exported, ``pg_create_restore_point``, the outbox position read and the graph store forked
    (BGSAVE); then the locks go. No transaction can commit between the snapshot and the WAL record, so
    recovering to the named point gives exactly the snapshot, which a second connection then checksums.
    """
    name = name or f"point-{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if len(name) > 63:
        raise SafetyError("A restore point's name has at most 63 characters.")
    if RestorePoint.objects.filter(name=name).exists():
        raise SafetyError(f"A restore point named {name} exists already.")
    client = _graph_redis()
    snapshot_wanted = client is not None
    if snapshot_wanted:
        with contextlib.suppress(Exception):
            _wait_no_bgsave(client, settings.BACKUP_GRAPH_SNAPSHOT_TIMEOUT)
    lock_started = time.perf_counter()
    holder = live_connect()
    try:
        for attempt in range(LOCK_ATTEMPTS):
            try:
                holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                holder.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
                holder.execute("SET LOCAL deadlock_timeout = 100")
                tables = [table for table, _ in checksums.table_names(holder.cursor())]
                holder.execute(
                    psycopg.sql.SQL("LOCK TABLE {} IN SHARE MODE").format(
                        psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(t) for t in tables)
                    )
                )
                break
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
                holder.rollback()
                if attempt == LOCK_ATTEMPTS - 1:
                    raise SafetyError(
                        "could not hold writers for the restore point (long transactions); try again"
                    ) from exc
                time.sleep(0.5 * (attempt + 1))
        snapshot_id = holder.execute("SELECT pg_export_snapshot()").fetchone()[0]
        lsn = holder.execute("SELECT pg_create_restore_point(%s)::text", [name]).fetchone()[0]
        created_at = holder.execute("SELECT clock_timestamp()").fetchone()[0]
        position, pending = holder.execute(
            "SELECT coalesce(max(id), 0), count(*) FROM core_outboxevent WHERE consumer = 'graph'"
        ).fetchone()
        forked = False
        if snapshot_wanted:
            try:
                before_save = client.lastsave()
                client.bgsave()
                forked = True
            except Exception as exc:
                logger.warning("graph snapshot not taken with restore point %s: %s", name, exc)
        reader = live_connect()
        reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        reader.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")  # the server's own id, not user input
        holder.commit()  # writers go on; the reader keeps the point's snapshot
        lock_wait = time.perf_counter() - lock_started
        started = time.perf_counter()
        try:
            sums = checksums.table_checksums(reader.cursor())
        finally:
            reader.rollback()
            reader.close()
        checksum_seconds = time.perf_counter() - started
    finally:
        holder.close()
    snapshot = None
    if forked:
        try:
            snapshot = _graph_snapshot_collect(client, before_save, position=position, pending=pending)
        except (SafetyError, OSError) as exc:
            logger.warning("graph snapshot of restore point %s not kept: %s", name, exc)
    point = RestorePoint.objects.create(
        name=name,
        created_at=created_at,
        lsn=lsn,
        checksums=sums,
        checksum_seconds=round(checksum_seconds, 3),
        lock_wait_seconds=round(lock_wait, 3),
        outbox_position=position,
        graph_snapshot=snapshot,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit.record(
        "backup.restore_point",
        actor=actor,
        target=point,
        payload={"name": name, "lsn": lsn, **checksums.summary(sums), "graph_snapshot": bool(snapshot)},
    )
    return point


def _graph_snapshot_collect(client, before_save, *, position: int, pending: int) -> GraphSnapshot:
    """Wait for the BGSAVE forked at the point, then copy and encrypt its RDB file into the repository."""
    started = time.perf_counter()
    deadline = time.monotonic() + settings.BACKUP_GRAPH_SNAPSHOT_TIMEOUT
    while True:
        persistence = client.info("persistence")
        if not persistence.get("rdb_bgsave_in_progress") and client.lastsave() != before_save:
            break
        if time.monotonic() > deadline:
            raise SafetyError("the graph store's background save did not finish in time")
        time.sleep(0.05)
    if persistence.get("rdb_last_bgsave_status") != "ok":
        raise SafetyError("the graph store's background save failed")
    saved_at = client.lastsave()
    folder = Path(client.config_get("dir")["dir"])
    source = folder / client.config_get("dbfilename")["dbfilename"]
    if not source.exists():
        raise SafetyError(
            f"the graph store's RDB file {source} is not on this machine; the projection will be rebuilt instead"
        )
    target_dir = Path(settings.BACKUP_GRAPH_SNAPSHOT_DIR)
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now()
    plain = target_dir / f".graph-{stamp:%Y%m%dT%H%M%S%f}.rdb"
    shutil.copyfile(source, plain)
    if client.lastsave() != saved_at:  # a later save replaced the file while we copied: not the point's state
        plain.unlink(missing_ok=True)
        raise SafetyError("the graph store saved again while its snapshot was copied")
    encrypted = target_dir / f"graph-{stamp:%Y%m%dT%H%M%S%f}.rdb.gpg"
    try:
        gpg_encrypt(plain, encrypted)
    finally:
        plain.unlink(missing_ok=True)
    snapshot = GraphSnapshot.objects.create(
        taken_at=stamp,
        path=str(encrypted),
        size_bytes=encrypted.stat().st_size,
        sha256=_sha256(encrypted),
        outbox_position=position,
        pending_outbox=pending,
        seconds=round(time.perf_counter() - started, 3),
    )
    audit.record(
        "backup.graph_snapshot",
        target=snapshot,
        payload={"outbox_position": position, "pending": pending, "size_bytes": snapshot.size_bytes},
    )
    return snapshot


def gpg_encrypt(source: Path, target: Path) -> None:
    result = subprocess.run(
        [
            "gpg", "--homedir", str(settings.BACKUP_GNUPG_HOME), "--batch", "--yes", "--trust-model", "always",
            "--encrypt", "--recipient", engine.key_id(), "--output", str(target), str(source),
        ],
        capture_output=True,
        timeout=3600,
    )  # fmt: skip
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupEngineError("gpg could not encrypt the graph snapshot: " + result.stderr.decode()[-300:])


def gpg_decrypt(source: Path, target: Path) -> None:
    result = subprocess.run(
        [
            "gpg", "--homedir", str(settings.BACKUP_GNUPG_HOME), "--batch", "--yes", "--pinentry-mode", "loopback",
            "--passphrase-fd", "0", "--decrypt", "--output", str(target), str(source),
        ],
        input=engine.passphrase().encode() + b"\n",
        capture_output=True,
        timeout=3600,
    )  # fmt: skip
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupEngineError(f"gpg could not decrypt {source}: " + result.stderr.decode(errors="replace")[-300:])


# --------------------------------------------------------------------------- WAL and freshness


def archive_wal() -> None:
    """Move WAL segments the server archived into the repository (compressed, encrypted): Barman's archive-wal."""
    engine.barman("archive-wal", settings.BACKUP_SERVER_NAME, check=False, timeout=600)


def wal_status() -> dict:
    """The server's archiver: archived and failed counts, the last archived segment and its time."""
    with live_connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal,"
            " last_failed_time, current_setting('archive_mode') FROM pg_stat_archiver"
        ).fetchone()
    keys = (
        "archived_count", "last_archived_wal", "last_archived_time", "failed_count", "last_failed_wal",
        "last_failed_time", "archive_mode",
    )  # fmt: skip
    return dict(zip(keys, row, strict=True))


def freshness_problems(*, now: datetime.datetime | None = None) -> list[str]:
    """Why backups are stale, in words: no good backup within the policy's age, WAL archiving failing or late."""
    now = now or timezone.now()
    policy = BackupPolicy.current()
    problems = []
    last = _latest_good()
    if last is None:
        problems.append("there is no good backup")
    else:
        age = now - (last.finished_at or last.started_at)
        if age > datetime.timedelta(hours=policy.max_backup_age_hours):
            problems.append(
                f"the last good backup ({last.backup_id}) is {age.total_seconds() / 3600:.1f} h old, "
                f"past the policy's {policy.max_backup_age_hours} h"
            )
    try:
        wal = wal_status()
    except psycopg.Error as exc:
        return [*problems, f"the archiver's state could not be read: {exc}"]
    if wal["archive_mode"] != "on":
        problems.append("WAL archiving is off on the database server (archive_mode)")
    failed_at, archived_at = wal["last_failed_time"], wal["last_archived_time"]
    if failed_at and (archived_at is None or failed_at > archived_at):
        problems.append(f"WAL archiving is failing (segment {wal['last_failed_wal']} since {failed_at:%H:%M:%S} UTC)")
    elif (
        archived_at
        and (now - archived_at).total_seconds() > policy.max_wal_age_seconds + policy.wal_archive_timeout_seconds
    ) and _wal_written_since(archived_at):
        problems.append(
            f"the last WAL was archived {(now - archived_at).total_seconds():.0f} s ago, past the policy's "
            f"{policy.max_wal_age_seconds} s"
        )
    return problems


def _wal_written_since(moment: datetime.datetime) -> bool:
    """Whether WAL was written after the last archived segment (an idle server archives nothing, rightly)."""
    with live_connect(autocommit=True) as conn:
        current, last = conn.execute(
            "SELECT pg_walfile_name(pg_current_wal_insert_lsn() - 1), last_archived_wal FROM pg_stat_archiver"
        ).fetchone()
    return bool(last) and current > last


def freshness_check() -> list[str]:
    """The stale-backup alert (every few minutes from beat); also sets the backup age gauges."""
    problems = freshness_problems()
    last = _latest_good()
    metrics.backup_age(
        seconds=(timezone.now() - (last.finished_at or last.started_at)).total_seconds() if last else None
    )
    if problems:
        alerts.alert(
            key="backup-stale",
            subject="Backups are stale",
            body="\n".join(f"- {problem}" for problem in problems) + "\n\nSee deploy/runbooks/backup-failed.md.",
        )
    return problems
