"""Benchmark search end to end: the real ASGI server at fixed request rates (make bench-search)."""

import argparse
import os
import signal
import statistics
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from apps.access import services as access
from apps.core.models import Entity
from apps.core.services import api_token_revoke
from tools.asgi_server import AsgiServer
from tools.bench import search as bench
from tools.bench.stats import percentile
from tools.bench.tenants import bench_reader_ensure, bench_tenant_from_options

MAX_RATE = 200
MAX_DURATION = 300
MAX_REQUESTS = 15_000
SLO_RATE, SLO_P95_MS = 10, 350  # plan SLO: p95 <= 350 ms at 10 requests/s, no errors
AIM_RATE, AIM_P95_MS, AIM_RATIO = 50, 100, 3  # aim: p95 <= 100 ms at 50 requests/s, under 3x the SQL floor


def _rates(text):
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None
    if not rates or any(not 0 < r <= MAX_RATE for r in rates):
        raise argparse.ArgumentTypeError(f"give rates above 0 and at most {MAX_RATE} requests/s")
    return rates


class Command(BaseCommand):
    help = (
        "Search through the real ASGI server (uvicorn, persisted search:v1, a reader's API token) at fixed "
        "request rates on a tenant of 1,000,000 demo entities (loaded once): requests, errors, throughput, "
        "p50/p95/p99, and the p95 of the same page queries run directly in PostgreSQL as the floor."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default=bench.BENCH_SLUG, help="benchmark tenant (default bench-search)")
        parser.add_argument("--entities", type=int, default=bench.BENCH_ENTITIES, help="its size (default 1000000)")
        parser.add_argument("--seed", type=int, default=bench.BENCH_SEED, help="demo data and request mix seed")
        parser.add_argument("--rates", type=_rates, default=[10.0, 50.0], help="requests/s, e.g. 10,50 (default)")
        parser.add_argument("--duration", type=float, default=30.0, help="seconds per rate (default 30)")
        parser.add_argument("--first", type=int, default=20, help="page size (default 20, the API default)")
        parser.add_argument("--next-share", type=float, default=0.2, help="share of next-page requests (0.2)")
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a request counts as failed")
        parser.add_argument("--floor-samples", type=int, default=500, help="page queries timed for the floor")
        parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the slowest floor query")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar while loading the tenant")

    def handle(self, *args, **options):
        rates, duration = options["rates"], options["duration"]
        if not 5 <= duration <= MAX_DURATION:
            raise CommandError(f"--duration: between 5 and {MAX_DURATION} seconds")
        if sum(rates) * duration > MAX_REQUESTS:
            raise CommandError(f"at most {MAX_REQUESTS:,} requests per run: lower --rates or --duration")
        if not 0 <= options["next_share"] < 1 or not 1 <= options["first"] <= 100 or options["floor_samples"] < 20:
            raise CommandError("--next-share in [0, 1), --first in 1-100, --floor-samples at least 20")

        say = self.stdout.write
        tenant = bench_tenant_from_options(options, say)
        user, token, raw = bench_reader_ensure(tenant=tenant, username=f"{tenant.slug}-reader")
        # Stopped with SIGTERM, still stop the server and revoke the token (the finally blocks run on SystemExit).
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        try:
            self._run(tenant, user, raw, options)
        finally:
            api_token_revoke(token=token)

    def _run(self, tenant, user, raw_token, options):
        say = self.stdout.write
        subject = access.subject_for(user=user)
        entities = Entity.objects.filter(tenant=tenant).count()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]
        say(
            f"machine: {os.cpu_count()} cores; PostgreSQL {pg_version}; tenant {tenant.slug} ({entities:,} entities)"
            f"; subject {user.username}: reader, clearance confidential; server DEBUG={settings.DEBUG}, "
            f"CONN_MAX_AGE={settings.DATABASES['default']['CONN_MAX_AGE']}"
        )
        queries = bench.queries_pick(tenant=tenant, subject=subject, seed=options["seed"], say=say)
        first = options["first"]
        phases = []
        log_path = settings.VAR_DIR / "bench-search-uvicorn.log"
        with AsgiServer(log_path=log_path) as server:
            say(f"server: uvicorn intelgraph.asgi at {server.url} (log {log_path})")
            warm = bench.drive(
                url=server.url,
                token=raw_token,
                queries=queries,
                rate=len(queries) / 5,
                duration=5,
                first=first,
                next_share=0.2,
                timeout=options["timeout"],
                seed=options["seed"],
            )
            say(
                f"warm-up: {len(warm.outcomes)} requests over 5 s, {sum(warm.errors.values())} errors {dict(warm.errors)}"
            )
            for index, rate in enumerate(options["rates"]):
                say(f"rate {rate:g}/s for {options['duration']:g} s …")
                phase = bench.drive(
                    url=server.url,
                    token=raw_token,
                    queries=queries,
                    rate=rate,
                    duration=options["duration"],
                    first=first,
                    next_share=options["next_share"],
                    timeout=options["timeout"],
                    seed=options["seed"] + 1 + index,
                    server_pid=server.process.pid,
                )
                phases.append(phase)

        answered = [o.request for phase in phases for o in phase.answered]
        if not answered:
            raise CommandError(f"no request was answered; see {log_path}")
        step = max(1, len(answered) // options["floor_samples"])
        samples = answered[::step][: options["floor_samples"]]
        floor = bench.sql_floor(subject=subject, requests=samples, first=first)
        floor_ms = [ms for _, ms in floor]
        floor_p95 = percentile(floor_ms, 0.95)
        self._report(phases, floor, floor_p95, first)
        if options["explain"]:
            slowest = max(floor, key=lambda item: item[1])[0]
            say(f"\nEXPLAIN ANALYZE of the slowest floor query ({slowest.kind}: {slowest.query.label}):")
            say(bench.explain(subject=subject, request=slowest, first=first))
        connection.close()

    def _report(self, phases, floor, floor_p95, first):
        say = self.stdout.write
        say(
            f"\n{'rate/s':>7} {'requests':>8} {'errors':>6} {'achieved/s':>10} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} {'SQL p95 ms':>10} {'API/SQL p95':>11}"
        )
        for phase in phases:
            latencies = [o.ms for o in phase.outcomes]
            p95 = percentile(latencies, 0.95)
            say(
                f"{phase.rate:>7g} {len(phase.outcomes):>8} {sum(phase.errors.values()):>6} "
                f"{len(phase.answered) / phase.wall:>10.1f} {statistics.median(latencies):>8.1f} {p95:>8.1f} "
                f"{percentile(latencies, 0.99):>8.1f} {floor_p95:>10.1f} {p95 / floor_p95:>11.1f}"
            )
        for phase in phases:
            cpu, n = phase.cpu, max(1, len(phase.outcomes))
            if "machine" in cpu and "server" in cpu:
                rest = cpu["machine"] - cpu["server"] - cpu["generator"]
                say(
                    f"CPU at {phase.rate:g}/s: machine {cpu['machine'] / phase.wall / (os.cpu_count() or 1):.0%} busy; "
                    f"per request: server {cpu['server'] / n * 1000:.1f} ms, load generator "
                    f"{cpu['generator'] / n * 1000:.1f} ms, rest (PostgreSQL, others) {rest / n * 1000:.1f} ms"
                )
        for phase in phases:
            if phase.errors:
                say(f"errors at {phase.rate:g}/s: " + ", ".join(f"{c} x{n}" for c, n in phase.errors.most_common()))
        kinds = ("rare", "common", "filtered", "next page")
        say("\np50 / p95 ms by kind of request (all requests, errors included; SQL: the floor's samples)")
        say(f"{'':>12}" + "".join(f"{kind:>26}" for kind in kinds))
        for phase in phases:
            cells = []
            for kind in kinds:
                ms = [o.ms for o in phase.outcomes if o.request.kind == kind]
                cells.append(f"{statistics.median(ms):.1f} / {percentile(ms, 0.95):.1f} (n={len(ms)})" if ms else "-")
            say(f"{f'API {phase.rate:g}/s':<12}" + "".join(f"{cell:>26}" for cell in cells))
        cells = []
        for kind in kinds:
            ms = [t for request, t in floor if request.kind == kind]
            cells.append(f"{statistics.median(ms):.1f} / {percentile(ms, 0.95):.1f} (n={len(ms)})" if ms else "-")
        say(f"{'SQL floor':<12}" + "".join(f"{cell:>26}" for cell in cells))
        say(
            f"\nSQL floor: {len(floor)} of the answered requests' page queries (the selector's own SQL for "
            f"first={first} + 1 rows: tenant, clearance and grant narrowing, full-text match, filters, rank, keyset), "
            "run one after another on one open connection, without HTTP, GraphQL, token lookup, policy decision, "
            "snippets or the audit write."
        )
        by_rate = {phase.rate: phase for phase in phases}
        if SLO_RATE in by_rate:
            phase = by_rate[SLO_RATE]
            p95 = percentile([o.ms for o in phase.outcomes], 0.95)
            met = p95 <= SLO_P95_MS and not phase.errors
            say(
                f"SLO  p95 <= {SLO_P95_MS} ms at {SLO_RATE}/s, no errors: {'met' if met else 'NOT met'} "
                f"({p95:.1f} ms, {sum(phase.errors.values())} errors)"
            )
        if AIM_RATE in by_rate:
            phase = by_rate[AIM_RATE]
            p95 = percentile([o.ms for o in phase.outcomes], 0.95)
            met = p95 <= AIM_P95_MS and p95 / floor_p95 < AIM_RATIO and not phase.errors
            say(
                f"aim  p95 <= {AIM_P95_MS} ms at {AIM_RATE}/s and under {AIM_RATIO}x the SQL floor: "
                f"{'met' if met else 'NOT met'} ({p95:.1f} ms, ratio {p95 / floor_p95:.1f})"
            )
