"""Benchmark backups and restores on the 1,000,000-entity search tenant (make bench-restore).

1. The tenant ``bench-search`` (seeded once, as ``make bench-search`` does) with its graph projection in step.
2. Search p95 at 10 requests/s through the real ASGI server without a backup, then while a full backup runs
   (risk R3: within 1.5x).
3. The backup's time and size on disk (gzip, then GPG).
4. A burst of writes, the target time, more writes; then a PITR drill to the target into a scratch instance, each
   step timed; RTO (target 120 s including verification), graph at the same point (60 s from a snapshot),
   RPO (60 s).
"""

import os
import signal
import statistics
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.utils import timezone

from apps.access import services as access
from apps.core.models import Entity
from apps.core.services import api_token_revoke, entity_create
from apps.graph import services as graph
from apps.graph.store import get_store
from apps.safety import drills, engine, services
from apps.safety.choices import DrillStatus, Trigger
from apps.safety.errors import SafetyError
from apps.safety.models import BackupPolicy
from tools.asgi_server import AsgiServer
from tools.bench import search as bench
from tools.bench.stats import percentile
from tools.bench.tenants import bench_reader_ensure, bench_tenant_from_options

RTO_TARGET, GRAPH_TARGET, RPO_TARGET, R3_RATIO = 120.0, 60.0, 60.0, 1.5


class Command(BaseCommand):
    help = (
        "Backups and restores on the 1,000,000-entity tenant: search p95 at 10/s with and without a backup "
        "running, the backup's time and size, and a PITR drill after a burst of writes with each step's time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default=bench.BENCH_SLUG, help="benchmark tenant (default bench-search)")
        parser.add_argument("--entities", type=int, default=bench.BENCH_ENTITIES, help="its size (default 1000000)")
        parser.add_argument("--seed", type=int, default=bench.BENCH_SEED)
        parser.add_argument("--rate", type=float, default=10.0, help="search requests/s (default 10, the SLO's)")
        parser.add_argument("--duration", type=float, default=30.0, help="seconds of search load without a backup")
        parser.add_argument("--burst", type=int, default=500, help="entities written before the target time")
        parser.add_argument(
            "--throughput-limit", type=int, default=None, help="MB/s cap for this run's backup (default: the policy's)"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if (
            not 5 <= options["duration"] <= 300
            or not 1 <= options["rate"] <= 100
            or not 1 <= options["burst"] <= 20_000
        ):
            raise CommandError("--duration 5-300 s, --rate 1-100/s, --burst 1-20000")
        say = self.stdout.write
        tenant = bench_tenant_from_options(options, say)
        self._graph_in_step(tenant, say)
        user, token, raw = bench_reader_ensure(tenant=tenant, username=f"{tenant.slug}-reader")
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        policy = BackupPolicy.current()
        saved_limit = policy.throughput_limit_mb_s
        try:
            if options["throughput_limit"] is not None:
                policy.throughput_limit_mb_s = options["throughput_limit"]
                policy.save(update_fields=["throughput_limit_mb_s"])
            self._run(tenant, user, raw, options, say)
        finally:
            api_token_revoke(token=token)
            if options["throughput_limit"] is not None:
                policy.throughput_limit_mb_s = saved_limit
                policy.save(update_fields=["throughput_limit_mb_s"])

    def _graph_in_step(self, tenant, say) -> None:
        """The drill verifies the graph: the tenant's projection must match PostgreSQL first (rebuilt once)."""
        store = get_store()
        graph.outbox_drain(store=store)
        report = graph.graph_verify(tenant=tenant, store=store, max_listed=1)
        if report.ok:
            say(f"graph projection of {tenant.slug}: in step ({report.postgres['nodes'].count:,} nodes)")
            return
        say(f"graph projection of {tenant.slug}: not in step, rebuilding it once …")
        started = time.perf_counter()
        result = graph.graph_rebuild(tenant=tenant, store=store)
        say(f"  rebuilt {result.nodes:,} nodes, {result.edges:,} edges in {time.perf_counter() - started:.0f} s")

    def _wal_backlog_archived(self, say) -> None:
        """WAL the server archived while nothing moved it into the repository (a seed with `make run` down: GBs)
        is archived first, so the backup measured is the backup alone (beat does this every 15 s in production)."""
        incoming = engine.server_dir() / "incoming"
        waiting = len(list(incoming.glob("0*"))) if incoming.exists() else 0
        if waiting < 5:
            return
        say(f"archiving a backlog of {waiting} WAL segments into the repository first (not part of the backup) …")
        started = time.perf_counter()
        services.archive_wal()
        say(f"  archived in {time.perf_counter() - started:.0f} s")

    def _run(self, tenant, user, raw_token, options, say):
        subject = access.subject_for(user=user)
        with connection.cursor() as cursor:
            cursor.execute("SELECT version(), pg_size_pretty(pg_database_size(current_database()))")
            version, size = cursor.fetchone()
        say(
            f"machine: {os.cpu_count()} cores; {version.split(',')[0]}; database {size}; tenant {tenant.slug} "
            f"({Entity.objects.filter(tenant=tenant).count():,} entities)"
        )
        self._wal_backlog_archived(say)
        queries = bench.queries_pick(tenant=tenant, subject=subject, seed=options["seed"], say=say)
        rate = options["rate"]
        log_path = settings.VAR_DIR / "bench-restore-uvicorn.log"
        with AsgiServer(log_path=log_path) as server:
            drive = dict(url=server.url, token=raw_token, queries=queries, first=20, next_share=0.2, timeout=10.0)
            bench.drive(rate=len(queries) / 5, duration=5, seed=options["seed"], **drive)
            say(f"search at {rate:g}/s for {options['duration']:g} s without a backup …")
            quiet = bench.drive(rate=rate, duration=options["duration"], seed=options["seed"] + 1, **drive)
            say("search at the same rate while a full backup runs …")
            result: dict = {}

            def backup():
                close_old_connections()
                try:
                    result["backup"] = services.backup_take(trigger=Trigger.COMMAND, restore_point=False)
                except SafetyError as exc:
                    result["error"] = str(exc)
                finally:
                    connection.close()

            thread = threading.Thread(target=backup, name="bench-backup")
            started = time.perf_counter()
            thread.start()
            during = []
            while thread.is_alive():
                during += bench.drive(rate=rate, duration=10, seed=options["seed"] + 2 + len(during), **drive).outcomes
            thread.join()
            backup_seconds = time.perf_counter() - started
        if "error" in result:
            raise CommandError(f"the backup failed: {result['error']}")
        taken = result["backup"]

        say(f"burst: {options['burst']:,} entities written, then the target time, then 100 more …")
        for index in range(options["burst"]):
            entity_create(tenant=tenant, kind="person", display_name=f"Restore Burst {index}")
        services.restore_point_take(name=f"bench-{timezone.now():%Y%m%dT%H%M%S}")  # what a backup takes after it
        for index in range(options["burst"] // 10):
            entity_create(tenant=tenant, kind="person", display_name=f"Restore Burst Second {index}")
        time.sleep(1.0)
        target = timezone.now()
        time.sleep(1.0)
        for index in range(100):
            entity_create(tenant=tenant, kind="person", display_name=f"After Target {index}")
        expected = Entity.objects.filter(tenant=tenant, created_at__lte=target).count()

        say(f"PITR drill to {target:%H:%M:%S.%f} UTC into a scratch instance …")
        drill = drills.drill_run(drills.drill_create(trigger=Trigger.COMMAND, target=target).pk, say=lambda text: None)
        self._report(say, quiet.outcomes, during, taken, backup_seconds, drill, tenant, expected)

    def _report(self, say, quiet, during, backup, backup_seconds, drill, tenant, expected):
        q_ms, d_ms = [o.ms for o in quiet], [o.ms for o in during]
        q95, d95 = percentile(q_ms, 0.95), percentile(d_ms, 0.95)
        errors = sum(1 for o in during if o.error) + sum(1 for o in quiet if o.error)
        say(f"\nsearch at 10/s        {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        say(
            f"  without a backup    {len(q_ms):>8} {statistics.median(q_ms):>8.1f} {q95:>8.1f} {percentile(q_ms, 0.99):>8.1f}"
        )
        say(
            f"  during the backup   {len(d_ms):>8} {statistics.median(d_ms):>8.1f} {d95:>8.1f} {percentile(d_ms, 0.99):>8.1f}"
        )
        ratio = d95 / q95 if q95 else float("inf")
        say(f"  ratio of p95 (during / without): {ratio:.2f}  target <= {R3_RATIO}: {'met' if ratio <= R3_RATIO else 'NOT met'}"
            f"; {errors} errors")  # fmt: skip
        policy = BackupPolicy.current()
        say(
            f"\nbackup {backup.backup_id} ({backup.kind}): {backup.duration_seconds:.1f} s in the service "
            f"({backup_seconds:.1f} s wall), cluster {backup.cluster_size_bytes / 1e6:,.0f} MB -> "
            f"{backup.size_bytes / 1e6:,.0f} MB on disk (gzip + GPG AES-256), throughput cap "
            f"{policy.throughput_limit_mb_s or 'none'} MB/s"
        )
        say(f"\ndrill #{drill.pk} {drill.status}" + (f": {drill.error}" if drill.error else ""))
        for step in drill.steps:
            seconds = f"{step['seconds']:8.1f} s" if step.get("seconds") is not None else "       -  "
            say(f"  {step['name']:<9} {seconds}  {(step.get('details') or [''])[-1]}")
        if drill.status != DrillStatus.PASSED:
            raise CommandError("the drill failed; see its report in the admin")
        report = drill.report
        restored = (report["graph"]["tenants"] or {}).get(tenant.slug, {}).get("entities")
        say(f"  restored entities of {tenant.slug} at the target: {restored:,} (source at the target: {expected:,})")
        graph = report["graph"] or {}
        verify = (graph.get("seconds") or {}).get("verify")
        rows = [
            ("PostgreSQL RTO incl. verification", report.get("postgres_ready_seconds"), RTO_TARGET),
            ("graph at the same point (snapshot)", graph.get("at_point_seconds"), GRAPH_TARGET),
            ("RPO", drill.rpo_seconds, RPO_TARGET),
        ]
        say("")
        for name, value, target in rows:
            if value is None:
                say(f"{name:<36}      —     (not in this drill's report)")
                continue
            say(f"{name:<36} {value:8.1f} s   target <= {target:.0f} s: {'met' if value <= target else 'NOT met'}")
        say(f"{'graph_verify of every tenant':<36} {verify or 0:8.1f} s   (after the point; no target)")
        say(f"{'drill RTO (restore to readyz, all verified)':<36} {drill.rto_seconds:8.1f} s   policy limit "
            f"{BackupPolicy.current().rto_limit_seconds:,} s")  # fmt: skip
        if restored != expected:
            raise CommandError(f"the restored tenant has {restored} entities at the target, the source {expected}")
