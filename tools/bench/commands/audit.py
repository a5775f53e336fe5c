"""Benchmark the audit log (make bench-audit): appends, sealing lag, lock waits and verify speed, new design beside
the old locked chain, in a database of its own."""

import os
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.audit.sealing import Sealer
from apps.audit.verification import verify_log
from tools.bench import audit as bench

TARGETS = "targets: >= 2,000 appends/s with 32 writers, 0 request-path lock waits, append p95 <= 2 ms, sealing lag p95 <= 2 s, full verify >= 50,000 events/s"


class Command(BaseCommand):
    help = (
        "Audit benchmark: N concurrent writer processes (--writers, default 1,8,32) append in their own short "
        "transactions for --duration seconds, first with a faithful copy of the old locked, hash-chained append "
        "(scratch table), then with today's lock-free append while the real sealer runs; then the sealer catches "
        "up. Prints appends/s, append p50/p95 inside the transaction, sealing lag p50/p95, lock waits seen in "
        "pg_stat_activity, and verify speed (full and incremental) on at least --events events, old and new. "
        "Runs in its own database (<database>_bench_audit, kept between runs)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--writers", default="1,8,32", help="comma-separated writer counts")
        parser.add_argument("--duration", type=float, default=30.0, help="seconds of appending per run")
        parser.add_argument("--events", type=int, default=1_000_000, help="events the log holds for verify speed")
        parser.add_argument("--interval-ms", type=int, default=200, help="the sealer's poll interval")
        parser.add_argument("--jobs", type=int, default=None, help="processes walking the log in verify")
        parser.add_argument("--no-old", action="store_true", help="skip the old design")
        parser.add_argument(
            "--verify",
            choices=("all", "incremental", "none"),
            default="all",
            help="which verify timings to take (full and the old walk take minutes on 1,000,000 events)",
        )

    def handle(self, *args, writers, duration, events, interval_ms, jobs, no_old, verify, **options):
        try:
            counts = [int(n) for n in writers.split(",")]
        except ValueError:
            raise CommandError(f"--writers: expected numbers like 1,8,32, got {writers!r}") from None
        if duration <= 0 or any(n < 1 for n in counts):
            raise CommandError("--duration and every writer count must be positive")
        say = self._say
        var = Path(settings.BASE_DIR) / "var" / "bench-audit"
        var.mkdir(parents=True, exist_ok=True)
        settings.AUDIT_CHECKPOINT_FILE = var / "checkpoint.json"
        settings.AUDIT_VERIFIED_FILE = var / "verified.json"
        settings.AUDIT_LOG_ORIGIN = "intelgraph.audit/bench"
        name = bench.database_use()
        say(f"machine: {os.cpu_count()} cores, load {_load()}; database {name}; sealer log {var / 'sealer.log'}")

        # A log of at least --events events, sealed, and the old chain as long
        started = time.perf_counter()
        if bench.seed_new(events, say=say):
            sealer = Sealer()
            while (result := sealer.seal()) is not None:
                if result.checkpoint.size % 100_000 < result.events:
                    say(f"  sealed up to {result.checkpoint.size:,}")
            say(f"seeded and sealed in {time.perf_counter() - started:.0f}s")
        if not no_old:
            bench.seed_old(events, say=say)

        rows = []
        for n in counts:
            say(f"floor, {n} writer(s), {duration:g}s …")
            rows.append(bench.appends_run(design="floor", writers=n, duration=duration))
            self._row(rows[-1])
            if not no_old:
                say(f"old design, {n} writer(s), {duration:g}s …")
                rows.append(bench.appends_run(design="old", writers=n, duration=duration))
                self._row(rows[-1])
            say(f"new design, {n} writer(s), {duration:g}s, sealer running …")
            first_seq = _next_seq()
            sealer = bench.SealerProcess(log=var / "sealer.log", interval_ms=interval_ms)
            sealer.wait_sealing()  # up, holding the lock, and caught up with what was there
            cpu_before = sealer.cpu_seconds()
            run = bench.appends_run(design="new", writers=n, duration=duration)
            ended = time.perf_counter()
            while bench.unsealed():
                if time.perf_counter() - ended > 300:
                    raise CommandError("the sealer did not catch up in 300 s; see its log")
                time.sleep(0.05)
            run["catch_up_s"] = time.perf_counter() - ended
            run["sealer_cpu_s"] = sealer.cpu_seconds() - cpu_before
            sealer.stop()
            run["lag"] = bench.sealing_lag(first_seq)
            rows.append(run)
            self._row(run)

        if verify == "none":
            self._table(rows, [], None)
            return
        fulls = []
        if verify == "all":
            # every signature first (what a first run on a new machine does), then a full run as the weekly one
            # is: after a verified state, whose signatures it does not check again
            for label, signatures in (("full --signatures", True), ("full", None)):
                say(f"verify: {label} …")
                report = verify_log(full=True, signatures=signatures, jobs=jobs)
                if not report.ok:
                    raise CommandError(f"the benchmark's log does not verify: {report.problem}")
                say(
                    f"  {report.checked:,} positions ({report.signatures:,} signatures) in {report.seconds:.1f}s: "
                    f"{report.checked / report.seconds:,.0f}/s"
                )
                fulls.append((f"new, {label}", report))
        else:
            verify_log(full=False, jobs=jobs)  # up to date, so the timed run below covers only the new appends
        added = bench.appends_run(design="new", writers=8, duration=min(duration, 10))
        sealer = bench.SealerProcess(log=var / "sealer.log", interval_ms=interval_ms)
        while bench.unsealed():
            time.sleep(0.1)
        sealer.stop()
        incremental = verify_log(full=False, jobs=jobs)
        if not incremental.ok:
            raise CommandError(f"the benchmark's log does not verify: {incremental.problem}")
        say(
            f"verify: incremental over the {incremental.checked:,} positions added by {added['appends']:,} appends: "
            f"{incremental.seconds:.2f}s, {incremental.checked / incremental.seconds:,.0f}/s"
        )
        old_verify = None
        if not no_old and verify == "all":
            say("old design verify (the chain walk over the scratch table) …")
            old_verify = bench.old_verify()
            say(f"  {old_verify[0]:,} events in {old_verify[1]:.1f}s: {old_verify[0] / old_verify[1]:,.0f}/s")
        self._table(rows, [*fulls, ("new, incremental", incremental)], old_verify)

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _row(self, run: dict) -> None:
        lag = run.get("lag")
        self._say(
            f"  {run['appends']:,} appends ({run['errors']} errors), {run['per_second']:,.0f}/s, p50/p95 "
            f"{run['p50_ms']:.2f}/{run['p95_ms']:.2f} ms, lock waits: {run['locks']['samples_waiting']} of "
            f"{run['locks']['samples']} samples (max {run['locks']['max_waiting']} backends)"
            + (
                f", sealing lag p50/p95 {lag['p50_s']:.2f}/{lag['p95_s']:.2f} s, caught up {run['catch_up_s']:.1f}s, "
                f"sealer CPU {run['sealer_cpu_s']:.1f} s ({run['sealer_cpu_s'] / run['duration']:.0%} of a core)"
                if lag
                else ""
            )
            + f"; load {run['load'][0][0]:.1f} -> {run['load'][1][0]:.1f}"
        )

    def _table(self, rows, verified, old_verify) -> None:
        say = self._say
        say("")
        say(f"cores: {os.cpu_count()}; load now {_load()}; {TARGETS}")
        say(
            "| writers | design | appends/s | append p50 / p95 ms | commit p95 ms | lock waits (samples / max backends) "
            "| sealing lag p50 / p95 s | oldest writing transaction elsewhere, p95 / max s | load 1 min |"
        )
        say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        old = {r["writers"]: r for r in rows if r["design"] == "old"}
        floor = {r["writers"]: r for r in rows if r["design"] == "floor"}
        for r in rows:
            ratios = []
            if r["design"] != "floor" and r["writers"] in floor and floor[r["writers"]]["per_second"]:
                ratios.append(f"{r['per_second'] / floor[r['writers']]['per_second']:.2f}x floor")
            if r["design"] == "new" and r["writers"] in old and old[r["writers"]]["per_second"]:
                ratios.append(f"{r['per_second'] / old[r['writers']]['per_second']:.1f}x old")
            ratio = f" ({', '.join(ratios)})" if ratios else ""
            lag = f"{r['lag']['p50_s']:.2f} / {r['lag']['p95_s']:.2f}" if r.get("lag") else "-"
            locks = r["locks"]
            say(
                f"| {r['writers']} | {r['design']} | {r['per_second']:,.0f}{ratio} | {r['p50_ms']:.2f} / {r['p95_ms']:.2f} "
                f"| {r['commit_p95_ms']:.2f} | {locks['samples_waiting']} of {locks['samples']} / {locks['max_waiting']} "
                f"| {lag} | {locks['elsewhere_p95_s']:.1f} / {locks['elsewhere_max_s']:.1f} "
                f"| {r['load'][0][0]:.1f} -> {r['load'][1][0]:.1f} |"
            )
        if not verified:
            return
        say("")
        say(f"| verify ({os.cpu_count()} cores) | events | signatures checked | seconds | events/s | vs old |")
        say("| --- | --- | --- | --- | --- | --- |")
        old_rate = old_verify[0] / old_verify[1] if old_verify else None
        for label, report in verified:
            rate = report.checked / report.seconds
            say(
                f"| {label} | {report.checked:,} | {report.signatures:,} | {report.seconds:.1f} | {rate:,.0f} | "
                + (f"{rate / old_rate:.2f}x |" if old_rate else "- |")
            )
        if old_verify:
            say(
                f"| old chain walk | {old_verify[0]:,} | {old_verify[0]:,} | {old_verify[1]:.1f} | {old_rate:,.0f} | 1x |"
            )


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _next_seq() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(seq), 0) + 1 FROM audit_auditevent")
        return cursor.fetchone()[0]
