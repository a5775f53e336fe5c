"""Restore drills (plan E-1): restore a backup into a scratch instance, prove it, time it, sign the report.

Steps, each timed and published live (Channels group ``safety.drill.<id>``):

1. **prepare**: the target (a restore point taken now, or the time asked for), the newest good backup before it,
   the encryption key, the backup's files against their recorded SHA-256; the WAL reaching the target.
2. **restore**: ``barman recover`` into the scratch folder, then a scratch PostgreSQL replays WAL to the restore
   point and pauses there.
3. **physical**: ``pg_verifybackup`` of the restored files against the backup's manifest (before the server
   starts), data checksums on, ``amcheck`` on every B-tree and GIN index, no checksum failure.
4. **logical**: every table's row count and checksum, per tenant, equal to the source's at the restore point.
   Then replay goes on to the time asked for, if any, and the server is promoted.
5. **graph**: a scratch graph store from the snapshot forked at the restore point (or empty), the restored
   outbox replayed onto it, ``graph_verify`` of every tenant (tenants that still differ are rebuilt from the
   restored PostgreSQL and verified again).
6. **probes**: the product against the scratch instance (a separate process): ``readyz``, a search as one
   tenant's user for another tenant's names finding none of them, ``audit_verify`` of the restored log.
7. **teardown**: both scratch servers stopped and their folder removed.

RTO is the start of the restore to the restored product answering ``readyz``; RPO the target to the last
transaction recovered (0 when the logical checksums at the point match). The report is signed with the audit
key (Ed25519), stored, audited, exported into the SOC 2 evidence bundle. A failed drill, or one past the policy's
RTO or RPO, raises the plan's alert. The live database is never touched: its system identifier, start time and
port are recorded before and checked after.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.safety import checksums, engine, services
from apps.safety.choices import BackupStatus, DrillStatus, Trigger
from apps.safety.errors import DrillBusy, SafetyError, TargetError
from apps.safety.models import Backup, BackupPolicy, RestoreDrill, RestorePoint
from apps.safety.scratch import ScratchGraph, ScratchPostgres
from intelgraph import alerts, metrics
from intelgraph.realtime import send_to_group

logger = logging.getLogger(__name__)

REPORT_FORMAT = "intelgraph.restore-drill/1"
DRILL_LOCK_KEY = 0x1A7E_D811  # pg advisory lock on the live database: one drill at a time
STEPS = (
    ("prepare", "Choose the target and backup; check the key, the backup's files and the WAL"),
    ("restore", "Restore the base backup and replay WAL to the target"),
    ("physical", "Physical integrity: pg_verifybackup, data checksums, amcheck on every index"),
    ("logical", "Logical integrity: row counts and checksums of every table, per tenant"),
    ("graph", "Graph store at the same point; graph_verify"),
    ("probes", "Post-restore probes: readyz, tenant isolation of search, audit_verify"),
    ("teardown", "Tear the scratch instance down"),
)


def drill_group(drill_id: int) -> str:
    return f"safety.drill.{int(drill_id)}"


# --------------------------------------------------------------------------- request


def target_problem(target: datetime.datetime | None, *, now: datetime.datetime | None = None) -> str | None:
    """Why no drill can restore to ``target`` (None: it can, as far as the catalogue tells before WAL checks)."""
    if target is None:
        return None if Backup.objects.filter(status=BackupStatus.GOOD).exists() else "there is no good backup yet"
    now = now or timezone.now()
    if timezone.is_naive(target):
        return "give the target time with its time zone (e.g. 2026-12-04T10:15:00Z)"
    if target > now:
        return f"the target {target:%Y-%m-%d %H:%M:%S %Z} is in the future"
    oldest = (
        Backup.objects.filter(status=BackupStatus.GOOD, consistent_at__isnull=False).order_by("consistent_at").first()
    )
    if oldest is None:
        return "there is no good backup yet"
    if target < oldest.consistent_at:
        return (
            f"the target is before the oldest backup: the earliest recoverable time is "
            f"{oldest.consistent_at:%Y-%m-%d %H:%M:%S} UTC (backup {oldest.backup_id})"
        )
    return None


def drill_request(*, actor=None, trigger: str = Trigger.ADMIN, target: datetime.datetime | None = None) -> RestoreDrill:
    """Queue a drill (the Celery task runs it). TargetError for an impossible target, DrillBusy when one runs."""
    drill = drill_create(actor=actor, trigger=trigger, target=target)
    from apps.safety.tasks import restore_drill_run

    transaction.on_commit(lambda: restore_drill_run.delay(drill.pk))
    return drill


def drill_create(*, actor=None, trigger: str, target: datetime.datetime | None = None) -> RestoreDrill:
    """A queued drill row, after the checks every way of starting one makes (target, one at a time)."""
    problem = target_problem(target)
    if problem:
        raise TargetError(problem)
    busy = RestoreDrill.objects.filter(status__in=[DrillStatus.QUEUED, DrillStatus.RUNNING]).first()
    if busy is not None:
        raise DrillBusy(f"restore drill #{busy.pk} is {busy.status}; drills run one at a time")
    return RestoreDrill.objects.create(
        trigger=trigger,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        requested_target=target,
        steps=[{"name": name, "title": title, "status": "pending"} for name, title in STEPS],
    )


# --------------------------------------------------------------------------- run


class _Drill:
    """One run: the drill row, its step clock, its scratch servers."""

    def __init__(self, drill: RestoreDrill, say) -> None:
        self.drill = drill
        self.say = say
        self.facts: dict = {"checksums": {}, "versions": _versions()}
        self.root = Path(settings.BACKUP_SCRATCH_DIR) / f"drill-{drill.pk}"
        self.live = services.live_identity()
        self.pg = ScratchPostgres(root=self.root, live=self.live)
        self.graph = ScratchGraph(root=self.root, live_ports=_live_ports())
        self.restore_started: float | None = None
        self.readyz_at: float | None = None

    # -- progress
    def _step(self, name: str) -> dict:
        return next(step for step in self.drill.steps if step["name"] == name)

    def publish(self) -> None:
        self.drill.save(update_fields=["status", "current_step", "steps", "started_at"])
        send_to_group(drill_group(self.drill.pk), {"type": "drill.progress", "drill": progress_document(self.drill)})

    @contextlib.contextmanager
    def step(self, name: str):
        step = self._step(name)
        step.update(status="running", started_at=timezone.now().isoformat())
        self.drill.current_step = name
        self.publish()
        self.say(f"{name}: {step['title']} …")
        started = time.perf_counter()
        try:
            yield step
        except BaseException as exc:
            step.update(status="failed", seconds=round(time.perf_counter() - started, 3), error=str(exc)[:2000])
            self.publish()
            raise
        step.update(status="passed", seconds=round(time.perf_counter() - started, 3))
        self.publish()
        self.say(f"{name}: passed in {step['seconds']:.1f} s{_detail(step)}")

    def note(self, step: dict, text: str) -> None:
        step.setdefault("details", []).append(text)
        self.publish()


def _detail(step: dict) -> str:
    details = step.get("details") or []
    return f" ({details[-1]})" if details else ""


def _versions() -> dict:
    found = {"python": platform.python_version()}
    with contextlib.suppress(Exception):
        found["barman"] = engine.barman("--version", check=False).stdout.split()[0]
    with contextlib.suppress(Exception):
        found["postgresql"] = engine.tool("postgres", "--version").stdout.strip()
    with contextlib.suppress(Exception):
        found["gnupg"] = subprocess.run(["gpg", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return found


def _live_ports() -> set[int]:
    ports = set()
    from urllib.parse import urlparse

    for url in (settings.REDIS_URL, settings.GRAPH_URL):
        with contextlib.suppress(ValueError):
            ports.add(urlparse(url).port or 6379)
    ports.add(int(settings.DATABASES["default"].get("PORT") or 5432))
    return ports


def drill_run(drill_id: int, *, say=logger.info) -> RestoreDrill:
    """Run a queued drill to the end (passed or failed); never raises for a drill that fails."""
    drill = RestoreDrill.objects.get(pk=drill_id)
    if drill.status not in (DrillStatus.QUEUED,):
        raise SafetyError(f"restore drill #{drill.pk} is {drill.status}, not queued")
    with services.live_connect(autocommit=True) as lock:
        if not lock.execute("SELECT pg_try_advisory_lock(%s)", [DRILL_LOCK_KEY]).fetchone()[0]:
            _fail_fast(drill, "another restore drill is running on this installation; drills run one at a time")
            return drill
        try:
            return _run_locked(drill, say=say)
        finally:
            with contextlib.suppress(psycopg.Error):
                lock.execute("SELECT pg_advisory_unlock(%s)", [DRILL_LOCK_KEY])


def _fail_fast(drill: RestoreDrill, why: str) -> None:
    drill.status = DrillStatus.FAILED
    drill.error = why
    drill.finished_at = timezone.now()
    drill.save(update_fields=["status", "error", "finished_at"])
    send_to_group(drill_group(drill.pk), {"type": "drill.progress", "drill": progress_document(drill)})


def _run_locked(drill: RestoreDrill, *, say) -> RestoreDrill:
    run = _Drill(drill, say)
    drill.status = DrillStatus.RUNNING
    drill.started_at = timezone.now()
    if not drill.steps:
        drill.steps = [{"name": name, "title": title, "status": "pending"} for name, title in STEPS]
    run.publish()
    audit.record(
        "drill.started",
        actor=drill.requested_by,
        target=drill,
        payload={"trigger": drill.trigger, "target": drill.requested_target},
    )
    failure = None
    try:
        _prepare(run)
        _restore(run)
        _physical(run)
        _logical(run)
        _graph_and_probes(run)
    except (SafetyError, OSError, psycopg.Error, subprocess.SubprocessError) as exc:
        failure = str(exc)
    except Exception as exc:
        logger.exception("restore drill #%s failed unexpectedly", drill.pk)
        failure = f"unexpected error: {exc.__class__.__name__}: {exc}"
    finally:
        with contextlib.suppress(SafetyError), run.step("teardown") as step:
            _teardown(run)
            run.note(step, f"scratch folder {run.root} removed")
    return _finish(run, failure)


# --------------------------------------------------------------------------- steps


def _prepare(run: _Drill) -> None:
    drill = run.drill
    with run.step("prepare") as step:
        problem = target_problem(drill.requested_target)
        if problem:
            raise TargetError(problem)
        engine.encryption_probe()
        run.note(step, f"backup key {engine.key_id()[-16:]} unlocks")
        # The newest WAL must be in the repository: switch the segment and archive everything the server gave.
        with contextlib.suppress(SafetyError):
            engine.barman("switch-wal", "--force", "--archive", "--archive-timeout", "120", settings.BACKUP_SERVER_NAME)
        if drill.requested_target is None:
            point = services.restore_point_take(name=f"drill-{drill.pk}-{timezone.now():%Y%m%dT%H%M%S}")
            engine.barman("switch-wal", "--force", "--archive", "--archive-timeout", "120", settings.BACKUP_SERVER_NAME)
            target_time = point.created_at
            run.note(step, f"restore point {point.name} at LSN {point.lsn}")
            backup = _backup_for(point.created_at)
        else:
            target_time = drill.requested_target
            services.archive_wal()
            backup = _backup_for(target_time)
            point = None
        problems = services.backup_files_verify(backup)
        if problems:
            previous = services.backup_mark_bad(backup, why="; ".join(problems))
            offer = (
                f"; the previous good backup is {previous.backup_id} (taken {previous.started_at:%Y-%m-%d %H:%M} UTC): "
                "run the drill again to use it"
                if previous
                else "; there is no earlier good backup"
            )
            raise SafetyError(f"backup {backup.backup_id} is corrupted: {'; '.join(problems)}{offer}")
        run.note(step, f"backup {backup.backup_id}: {len(backup.files)} files match their SHA-256")
        reachable = latest_reachable(backup)
        if reachable is not None and target_time > reachable["time"]:
            raise TargetError(
                f"the WAL has a gap after segment {reachable['segment']} (missing {reachable['missing']}): "
                f"the latest reachable time is {reachable['time']:%Y-%m-%d %H:%M:%S} UTC"
            )
        if point is None:
            # Rows are checked at the newest restore point between the backup and the target; replay then goes on.
            point = (
                RestorePoint.objects.filter(created_at__lte=target_time, created_at__gte=backup.consistent_at)
                .order_by("-created_at")
                .first()
            )
        if point is None:
            raise TargetError(
                "no restore point lies between the backup and the target, so the restored rows cannot be checked "
                "against the source: take a restore point (every backup takes one) before the target time"
            )
        drill.backup = backup
        drill.restore_point = point
        drill.save(update_fields=["backup", "restore_point"])
        run.facts["target_time"] = target_time
        run.facts["point"] = point
        run.facts["source_checksums"] = point.checksums


def _backup_for(moment: datetime.datetime) -> Backup:
    backup = (
        Backup.objects.filter(status=BackupStatus.GOOD, consistent_at__lte=moment).order_by("-consistent_at").first()
    )
    if backup is None:
        raise TargetError("no good backup was consistent before the target")
    chain = backup
    while chain.parent_id:
        chain = chain.parent
        if chain.status != BackupStatus.GOOD:
            raise SafetyError(
                f"incremental backup {backup.backup_id} depends on {chain.backup_id}, which is {chain.status}"
            )
    return backup


def _wal_next(name: str) -> str:
    timeline, log, seg = int(name[:8], 16), int(name[8:16], 16), int(name[16:24], 16)
    seg += 1
    if seg > 0xFF:
        log, seg = log + 1, 0
    return f"{timeline:08X}{log:08X}{seg:08X}"


def wal_catalogue() -> list[tuple[str, datetime.datetime]]:
    """Barman's WAL catalogue (xlog.db): each archived segment and when it was archived, in order."""
    path = engine.server_dir() / "wals" / "xlog.db"
    if not path.exists():
        path = engine.server_dir() / "wals" / f"{settings.BACKUP_SERVER_NAME}-xlog.db"
    rows = []
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 3 and len(fields[0]) == 24:
                rows.append((fields[0], datetime.datetime.fromtimestamp(float(fields[2]), datetime.UTC)))
    return sorted(rows)


def latest_reachable(backup: Backup) -> dict | None:
    """The last segment of unbroken WAL from the backup's first, its time, and the first one missing after it."""
    if not backup.begin_wal:
        return None
    catalogue = wal_catalogue()
    wals = engine.server_dir() / "wals"
    present = {name: moment for name, moment in catalogue if (wals / name[:16] / name).exists()}
    if backup.begin_wal not in present:
        return {"segment": "(none)", "missing": backup.begin_wal, "time": backup.consistent_at or backup.started_at}
    name = backup.begin_wal
    while _wal_next(name) in present:
        name = _wal_next(name)
    later = [segment for segment, _ in catalogue if segment > name and segment[:8] == name[:8]]
    if not later:
        return None  # WAL is unbroken to the newest archived segment: the server's own checks take it from here
    return {"segment": name, "missing": _wal_next(name), "time": present[name]}


def _restore(run: _Drill) -> None:
    drill, point = run.drill, run.facts["point"]
    with run.step("restore") as step:
        run.restore_started = time.perf_counter()
        if run.root.exists():
            shutil.rmtree(run.root)
        run.root.mkdir(parents=True)
        staging = run.root / "staging"
        result = engine.barman(
            "recover", settings.BACKUP_SERVER_NAME, drill.backup.backup_id, str(run.pg.data_dir),
            "--target-name", point.name, "--target-action", "pause",
            "--staging-path", str(staging), "--staging-location", "local",
            check=False, timeout=6 * 3600,
        )  # fmt: skip
        if result.returncode != 0:
            said = result.said
            if "decrypt" in said.lower() or "passphrase" in said.lower():
                raise SafetyError(f"the backup could not be decrypted: {said}")
            raise SafetyError(f"barman recover failed: {said}")
        shutil.rmtree(staging, ignore_errors=True)
        run.note(step, f"backup {drill.backup.backup_id} restored in {time.perf_counter() - run.restore_started:.1f} s")
        run.facts["verifybackup"] = _verify_backup_files(run)
        run.pg.start(recovery={})
        run.pg.wait_recovery(paused=True)
        with run.pg.connect() as conn:
            replayed = conn.execute("SELECT pg_last_xact_replay_timestamp(), pg_last_wal_replay_lsn()::text").fetchone()
        run.facts["replayed_at_point"] = replayed[0]
        run.note(step, f"WAL replayed to restore point {point.name} (LSN {replayed[1]}); replay paused there")


def _verify_backup_files(run: _Drill) -> dict:
    """pg_verifybackup of the restored files against the backup's manifest, before the server touches them."""
    backup = run.drill.backup
    manifest = run.pg.data_dir / "backup_manifest"
    if not manifest.exists():
        manifest = engine.server_dir() / "base" / backup.backup_id / "data" / "backup_manifest"
    if not manifest.exists():
        return {"ok": None, "said": "no backup manifest to verify against"}
    result = engine.tool(
        "pg_verifybackup", "--no-parse-wal", "--manifest-path", str(manifest),
        "--ignore", "postgresql.auto.conf", "--ignore", "recovery.signal", "--ignore", "barman_wal",
        "--ignore", "backup_manifest", "--ignore", "postgresql.conf", "--ignore", "pg_hba.conf",
        "--ignore", "pg_ident.conf", "--ignore", "postgresql.auto.conf.origin", "--ignore", "postgresql.conf.origin",
        "--ignore", ".barman-recover.info", "--ignore", "tablespace_map",
        str(run.pg.data_dir),
    )  # fmt: skip
    if result.returncode != 0:
        raise SafetyError(f"pg_verifybackup: the restored files differ from the backup's manifest: {result.said}")
    return {"ok": True, "said": result.said or "backup successfully verified", "manifest": str(manifest)}


_AMCHECK = """
SELECT c.relname, am.amname,
       CASE am.amname WHEN 'btree' THEN bt_index_check(c.oid, false) WHEN 'gin' THEN gin_index_check(c.oid) END
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE am.amname IN ('btree', 'gin') AND i.indisvalid AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_toast', 'information_schema') AND n.nspname NOT LIKE 'pg_temp%%'
"""


def _physical(run: _Drill) -> None:
    with run.step("physical") as step:
        run.note(step, run.facts["verifybackup"]["said"].splitlines()[-1])
        with run.pg.connect() as conn:
            checksums_on = conn.execute("SHOW data_checksums").fetchone()[0]
            if checksums_on != "on":
                raise SafetyError("data checksums are off on the restored server")
            databases = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datallowconn")]
        checked = {}
        for name in databases:
            with run.pg.connect(dbname=name) as conn:
                # On a standby in recovery nothing can be created; amcheck must be installed on the source already.
                has = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'").fetchone()
                if not has:
                    checked[name] = "amcheck not installed in this database on the source"
                    continue
                rows = conn.execute(_AMCHECK).fetchall()
                checked[name] = len(rows)
        with run.pg.connect() as conn:
            failures = conn.execute("SELECT coalesce(sum(checksum_failures), 0) FROM pg_stat_database").fetchone()[0]
        if failures:
            raise SafetyError(f"{failures} data checksum failure(s) on the restored server")
        run.facts["amcheck"] = checked
        run.facts["data_checksums"] = checksums_on
        total = sum(value for value in checked.values() if isinstance(value, int))
        run.note(step, f"data checksums on, 0 failures; amcheck passed on {total} indexes")


def _logical(run: _Drill) -> None:
    point = run.facts["point"]
    with run.step("logical") as step:
        with run.pg.connect() as conn:
            restored = checksums.table_checksums(conn.cursor())
        problems = checksums.differences(run.facts["source_checksums"], restored)
        run.facts["restored_summary"] = checksums.summary(restored)
        run.facts["checksums"] = {
            "source": {name: {"rows": t["rows"], "sum": t["sum"]} for name, t in point.checksums.items()},
            "restored_equal": not problems,
            "tenants": run.facts["restored_summary"]["rows_per_tenant"],
        }
        if problems:
            raise SafetyError("restored rows differ from the source at the restore point: " + "; ".join(problems[:10]))
        summary = run.facts["restored_summary"]
        run.note(step, f"{summary['tables']} tables, {summary['rows']:,} rows: counts and checksums equal per tenant")
        # Now on to the time asked for (if later than the point), then out of recovery.
        target = run.drill.requested_target
        if target is not None and target > point.created_at:
            run.pg.stop()
            _set_recovery_target(run.pg.data_dir, target)
            run.pg.start(recovery={})
            run.pg.wait_recovery(paused=False)
        else:
            with run.pg.connect() as conn:
                conn.execute("SELECT pg_wal_replay_resume()")
            run.pg.wait_recovery(paused=False)
        with run.pg.connect() as conn:
            # After recovery this stays at the commit time of the last transaction it applied.
            run.facts["last_commit"] = conn.execute("SELECT pg_last_xact_replay_timestamp()").fetchone()[0]
        run.facts["pg_ready_seconds"] = round(time.perf_counter() - run.restore_started, 3)
        run.note(step, "recovery finished; the scratch server is promoted and writable")


def _set_recovery_target(data_dir: Path, target: datetime.datetime) -> None:
    path = data_dir / "postgresql.auto.conf"
    lines = [
        line
        for line in path.read_text().splitlines()
        if not line.startswith(("recovery_target_name", "recovery_target_time", "recovery_target_action"))
    ]
    lines += [f"recovery_target_time = '{target.isoformat()}'", "recovery_target_action = 'promote'"]
    path.write_text("\n".join(lines) + "\n")


def _graph_and_probes(run: _Drill) -> None:
    point = run.facts["point"]
    with run.step("graph") as step:
        step_started = time.perf_counter()
        rdb = None
        snapshot = point.graph_snapshot
        if snapshot is not None and Path(snapshot.path).exists():
            if services._sha256(Path(snapshot.path)) != snapshot.sha256:
                raise SafetyError(f"graph snapshot {snapshot.path} differs from its recorded SHA-256")
            rdb = run.root / "snapshot.rdb"
            services.gpg_decrypt(Path(snapshot.path), rdb)
            run.note(step, f"snapshot at outbox {snapshot.outbox_position} decrypted ({snapshot.size_bytes:,} bytes)")
        else:
            run.note(step, "no graph snapshot at this point: the projection is rebuilt from the restored PostgreSQL")
        loading = time.perf_counter()
        run.graph.start(rdb)
        loaded = time.perf_counter() - loading
        graph = _probe(run, "graph")
        timing = graph.get("seconds") or {}
        # The graph is at the point once loaded, reindexed and replayed; verifying it (graph_verify) comes after.
        graph["at_point_seconds"] = round(time.perf_counter() - step_started - timing.get("verify", 0.0), 3)
        graph["load_seconds"] = round(loaded, 3)
        run.facts["graph"] = graph
        if not graph.get("ok"):
            raise SafetyError(f"graph_verify: the graph differs from the restored PostgreSQL: {graph.get('problem')}")
        rebuilt = graph.get("rebuilt") or []
        run.note(
            step,
            f"store loaded in {loaded:.1f} s, indexes rebuilt in {timing.get('reindex', 0):.1f} s, outbox replayed "
            f"({graph.get('replayed', 0):,} rows) in {timing.get('replay', 0):.1f} s: at the point after "
            f"{graph['at_point_seconds']:.1f} s",
        )
        run.note(
            step,
            f"graph_verify equal for {len(graph['tenants'])} tenants in {timing.get('verify', 0):.1f} s"
            + (f"; rebuilt {', '.join(rebuilt)}" if rebuilt else ""),
        )
    with run.step("probes") as step:
        probes = _probe(run, "probes")
        run.facts["probes"] = probes
        if probes.get("readyz_status") == 200:
            run.readyz_at = probes["readyz_at"]
        problems = probes.get("problems") or []
        if problems:
            raise SafetyError("post-restore probes failed: " + "; ".join(problems))
        run.note(
            step,
            f"readyz {probes['readyz_status']}; search isolation held for {probes['isolation_pairs']} tenant pairs; "
            f"audit_verify {probes['audit']}",
        )


def _probe(run: _Drill, what: str) -> dict:
    """Run ``manage.py restore_probe WHAT`` against the scratch servers in a process of its own."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=run.pg.url,
        REDIS_URL=run.graph.redis_url,
        GRAPH_URL=run.graph.graph_url,
        AUDIT_CHECKPOINT_FILE=str(run.root / "audit-checkpoint.json"),
        AUDIT_VERIFIED_FILE=str(run.root / "audit-verified.json"),
        PROMETHEUS_MULTIPROC_DIR="",
        IG_RESTORE_PROBE="1",
        # the probe asks for https://127.0.0.1/readyz in-process: production's host and TLS rules must let it in
        DJANGO_ALLOWED_HOSTS=",".join(filter(None, [os.environ.get("DJANGO_ALLOWED_HOSTS", ""), "127.0.0.1"])),
    )
    result = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "restore_probe", what],
        capture_output=True,
        text=True,
        env=env,
        timeout=6 * 3600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        said = (result.stderr or result.stdout).strip().splitlines()[-8:]
        raise SafetyError(f"the {what} probe failed (exit {result.returncode}): " + " | ".join(said))
    found = json.loads(lines[-1])
    if "readyz_after" in found and run.restore_started is not None:
        # The probe process says how long after its start readyz answered; RTO counts from the restore's start.
        found["readyz_at"] = time.perf_counter() - (found["elapsed"] - found["readyz_after"])
    return found


def _teardown(run: _Drill) -> None:
    run.graph.stop()
    run.pg.stop()
    if run.root.exists():
        shutil.rmtree(run.root, ignore_errors=True)


# --------------------------------------------------------------------------- report


def _finish(run: _Drill, failure: str | None) -> RestoreDrill:
    drill = run.drill
    policy = BackupPolicy.current()
    after = _live_after(run)
    if after and failure is None:
        failure = after
    rto = round(run.readyz_at - run.restore_started, 3) if run.readyz_at and run.restore_started else None
    target_time = run.facts.get("target_time")
    rpo = None
    if failure is None and target_time is not None:
        if drill.requested_target is None or drill.requested_target <= run.facts["point"].created_at:
            rpo = 0.0  # every row the source had at the point is there: the checksums say so
        elif run.facts.get("last_commit"):
            rpo = max(0.0, round((target_time - run.facts["last_commit"]).total_seconds(), 3))
    limits = []
    if failure is None and rto is not None and rto > policy.rto_limit_seconds:
        limits.append(f"RTO {rto:.0f} s is past the policy's {policy.rto_limit_seconds} s")
    if failure is None and rpo is not None and rpo > policy.rpo_limit_seconds:
        limits.append(f"RPO {rpo:.0f} s is past the policy's {policy.rpo_limit_seconds} s")
    if limits:
        failure = "; ".join(limits)
    drill.status = DrillStatus.FAILED if failure else DrillStatus.PASSED
    drill.error = failure or ""
    drill.finished_at = timezone.now()
    drill.rto_seconds = rto
    drill.rpo_seconds = rpo
    drill.current_step = ""
    drill.report = _report(run, rto=rto, rpo=rpo, failure=failure, policy=policy)
    drill.signature = audit.sign(audit.canonical_json(drill.report))
    drill.save()
    metrics.drill_finished(outcome=drill.status, rto_seconds=rto, rpo_seconds=rpo)
    audit.record(
        "drill.failed" if failure else "drill.passed",
        actor=drill.requested_by,
        target=drill,
        payload={"rto_seconds": rto, "rpo_seconds": rpo, "error": (failure or "")[:1000], **drill.signature},
    )
    send_to_group(drill_group(drill.pk), {"type": "drill.progress", "drill": progress_document(drill)})
    if failure:
        slow = any("RTO" in item for item in limits)
        alerts.alert(
            key=f"restore-drill-{drill.pk}",
            subject="Restore drill exceeded the RTO (restore > 30 min)" if slow else "Restore drill failed",
            body=f"Restore drill #{drill.pk} {'was too slow' if slow else 'failed'}: {failure}\n\n"
            f"Report: {settings.SITE_URL}/admin/safety/restoredrill/{drill.pk}/change/\n"
            "Runbook: deploy/runbooks/restore-drill-failed.md",
        )
    return drill


def _live_after(run: _Drill) -> str | None:
    """The live server must be the same one, never restarted or moved, after the drill."""
    try:
        after = services.live_identity()
    except psycopg.Error as exc:
        return f"the live database did not answer after the drill: {exc}"
    for key in ("system_identifier", "started_at", "port", "data_directory"):
        if after[key] != run.live[key]:
            return f"the live database's {key} changed during the drill ({run.live[key]} → {after[key]})"
    return None


def _report(run: _Drill, *, rto, rpo, failure, policy) -> dict:
    drill = run.drill
    point = run.facts.get("point")
    backup = drill.backup
    graph = run.facts.get("graph") or {}
    probes = run.facts.get("probes") or {}
    return json.loads(
        json.dumps(
            {
                "format": REPORT_FORMAT,
                "drill": drill.pk,
                "installation": settings.AUDIT_LOG_ORIGIN,
                "outcome": "failed" if failure else "passed",
                "error": failure or "",
                "started_by": drill.requested_by.get_username() if drill.requested_by else f"({drill.trigger})",
                "trigger": drill.trigger,
                "started_at": drill.started_at,
                "finished_at": drill.finished_at,
                "requested_target": drill.requested_target,
                "target_time": run.facts.get("target_time"),
                "restore_point": {"name": point.name, "lsn": point.lsn, "at": point.created_at} if point else None,
                "backup": {
                    "id": backup.backup_id,
                    "kind": backup.kind,
                    "taken_at": backup.started_at,
                    "consistent_at": backup.consistent_at,
                    "size_bytes": backup.size_bytes,
                    "encryption": backup.encryption,
                    "files": backup.files,
                }
                if backup
                else None,
                "rto_seconds": rto,
                "rpo_seconds": rpo,
                "postgres_ready_seconds": run.facts.get("pg_ready_seconds"),
                "limits": {"rto_seconds": policy.rto_limit_seconds, "rpo_seconds": policy.rpo_limit_seconds},
                "steps": [
                    {key: step.get(key) for key in ("name", "status", "seconds", "details", "error") if key in step}
                    for step in drill.steps
                ],
                "physical": {
                    "pg_verifybackup": run.facts.get("verifybackup"),
                    "data_checksums": run.facts.get("data_checksums"),
                    "amcheck_indexes": run.facts.get("amcheck"),
                },
                "logical": run.facts.get("checksums"),
                "graph": {
                    "tenants": graph.get("tenants"),
                    "replayed": graph.get("replayed"),
                    "rebuilt": graph.get("rebuilt"),
                    "differences_before_rebuild": graph.get("differences_before_rebuild"),
                    "snapshot": point.graph_snapshot.path if point and point.graph_snapshot else None,
                    "load_seconds": graph.get("load_seconds"),
                    "at_point_seconds": graph.get("at_point_seconds"),
                    "seconds": graph.get("seconds"),
                },
                "probes": {key: value for key, value in probes.items() if key not in ("readyz_at",)},
                "live_server": {key: run.live[key] for key in ("system_identifier", "port", "started_at")},
                "scratch": {"postgres_port": run.pg.port, "graph_port": run.graph.port, "folder": str(run.root)},
                "versions": run.facts.get("versions"),
            },
            default=str,
            sort_keys=True,
        )
    )


def report_problem(drill: RestoreDrill) -> str | None:
    """None when the drill's stored report carries a valid signature by a trusted audit key, else why not."""
    if not drill.report or not drill.signature:
        return "the drill has no signed report"
    return audit.verify_signature(
        audit.canonical_json(drill.report), drill.signature.get("signature"), drill.signature.get("key_id")
    )


def progress_document(drill: RestoreDrill) -> dict:
    """What the admin's progress page shows (and the WebSocket sends): status, steps, figures."""
    return {
        "id": drill.pk,
        "status": drill.status,
        "current_step": drill.current_step,
        "steps": [
            {key: step.get(key) for key in ("name", "title", "status", "seconds", "details", "error")}
            for step in drill.steps
        ],
        "rto_seconds": drill.rto_seconds,
        "rpo_seconds": drill.rpo_seconds,
        "error": drill.error,
        "finished": drill.status in (DrillStatus.PASSED, DrillStatus.FAILED),
    }
