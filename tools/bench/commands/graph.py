"""Benchmark graph neighbourhoods on a projection of 1.8 million entities (make bench-graph)."""

import contextlib
import signal
import statistics
import sys
import time
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from apps.access import services as access
from apps.core import demo
from apps.core.choices import Sensitivity
from apps.core.services import api_token_revoke
from apps.graph import selectors, services
from apps.graph.store import GraphStoreUnavailable, PostgresAdjacency, get_store
from tools.asgi_server import AsgiServer, free_port
from tools.bench import graph as bench
from tools.bench.tenants import REUSE_SHARE, bench_reader_ensure, bench_tenant_ensure

# (key, label) in the order the table prints them
PATHS = (
    ("store", "graph store, direct (store.expand per hop)"),
    ("pg", "PostgreSQL adjacency, direct"),
    ("service", "service on the graph store"),
    ("service-pg", "service on the PostgreSQL fallback"),
    ("api", "API on the graph store"),
    ("api-pg", "API, graph store unreachable"),
)
LABELS = dict(PATHS)


def _hops(text):
    try:
        hops = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise CommandError(f"--hops: {text!r} is not a comma-separated list of numbers") from None
    if not hops or any(not 1 <= h <= 3 for h in hops):
        raise CommandError("--hops: give hops between 1 and 3, e.g. 1,2")
    return hops


class Command(BaseCommand):
    help = (
        "1-hop and 2-hop neighbourhoods on a tenant of 1,800,000 demo entities (about 3,060,000 relationships; "
        "seeded once, about 11 minutes): times a full graph_rebuild and verifies it, then p50/p95/p99 of the same "
        "seeds directly against the graph store, through the service and through the real ASGI server, each also "
        "on the PostgreSQL fallback, and checks that both backends give the same answers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default=bench.BENCH_SLUG, help="benchmark tenant (default bench-graph)")
        parser.add_argument("--entities", type=int, default=bench.BENCH_ENTITIES, help="its size (default 1800000)")
        parser.add_argument("--seed", type=int, default=bench.BENCH_SEED, help="demo data and seed-entity seed (7)")
        parser.add_argument("--samples", type=int, default=200, help="seed entities per measurement (default 200)")
        parser.add_argument(
            "--limit",
            type=int,
            default=selectors.DEFAULT_LIMIT,
            help=f"nodes per answer page (default {selectors.DEFAULT_LIMIT}, the API's default)",
        )
        parser.add_argument("--hops", default="1,2", help="hops to measure (default 1,2)")
        parser.add_argument("--warmup", type=int, default=20, help="seeds run once per path before timing (20)")
        parser.add_argument(
            "--skip-rebuild", action="store_true", help="reuse the projection when its counts match PostgreSQL's"
        )
        parser.add_argument("--skip-verify", action="store_true", help="no graph_verify (it takes minutes)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **options):
        hops = _hops(options["hops"])
        if not 10 <= options["samples"] <= 5000 or not 1 <= options["limit"] <= 1000 or options["warmup"] < 0:
            raise CommandError("--samples in 10-5000, --limit in 1-1000, --warmup at least 0")
        self.quiet = options["no_progress"]
        # Stopped with SIGTERM, still abort a rebuild, stop the servers and revoke the token (finally blocks and
        # graph_rebuild's abort run on SystemExit).
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        say = self.stdout.write
        store = get_store()
        try:
            store.ping()
        except GraphStoreUnavailable as exc:
            raise CommandError(f"the graph store is not reachable: {exc}") from None

        tenant = self._tenant(options)
        nodes, edges = services.rebuild_counts(tenant=tenant)
        box = bench.machine()
        say(
            f"machine: {box['cores']} cores, {box['ram_gib']:.1f} GiB RAM, load average {box['load']:.2f}; "
            f"{date.today().isoformat()}"
        )
        say(
            f"tenant {tenant.slug}: {nodes:,} entities, {edges:,} relationships; graph store {store.backend} "
            f"({settings.GRAPH_URL}); expansion budget {settings.GRAPH_EXPANSION_BUDGET:,} edges"
        )
        rebuild = self._rebuild(tenant, store, nodes, edges, options["skip_rebuild"])
        if options["skip_verify"]:
            say("verify: skipped (--skip-verify)")
        else:
            self._verify(tenant, store, nodes, edges)

        user, token, raw = bench_reader_ensure(tenant=tenant, username=f"{tenant.slug}-reader")
        try:
            self._measure(tenant, user, raw, hops, rebuild, options)
        finally:
            api_token_revoke(token=token)
            connection.close()

    # ---------------------------------------------------------------- data and projection

    def _tenant(self, options):
        slug, entities, seed = options["tenant"], options["entities"], options["seed"]
        state = demo.demo_tenant_state(slugs=[slug])[slug]
        if state["entities"] < entities * REUSE_SHARE and not state["demo_entities"]:
            self.stdout.write(
                f"tenant {slug} is not loaded: seeding {entities:,} demo entities takes about "
                f"{bench.SEED_MINUTES * entities / bench.BENCH_ENTITIES:.0f} minutes on 2 cores, once"
            )
        bar = tqdm(
            total=entities,
            unit=" entities",
            unit_scale=True,
            file=sys.stderr,
            disable=self.quiet,
            desc="bench-graph tenant",
            delay=0.5,
        )
        try:
            return bench_tenant_ensure(
                slug=slug, entities=entities, seed=seed, progress=bar.update, say=self.stdout.write
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        finally:
            bar.close()

    def _rebuild(self, tenant, store, nodes, edges, skip):
        say = self.stdout.write
        if skip:
            in_graph = store.counts(tenant.pk)
            if in_graph == (nodes, edges):
                say(f"rebuild: skipped (--skip-rebuild; the projection holds {nodes:,} nodes and {edges:,} edges)")
                return None
            say(f"rebuild: the projection holds {in_graph[0]:,} nodes and {in_graph[1]:,} edges, not these: rebuilding")
        say(f"rebuild: graph_rebuild of {nodes + edges:,} rows …")
        last_batch = {}  # phase -> when its latest batch was written

        def progress(phase, n):
            last_batch[phase] = time.perf_counter()
            bar.update(n)

        cpu, server_cpu, started = time.process_time(), bench.graph_server_cpu(store), time.perf_counter()
        with tqdm(
            total=nodes + edges,
            unit=" rows",
            unit_scale=True,
            file=sys.stderr,
            disable=self.quiet,
            desc="graph_rebuild",
        ) as bar:
            try:
                result = services.graph_rebuild(tenant=tenant, store=store, progress=progress)
            except GraphStoreUnavailable as exc:
                raise CommandError(f"the graph store failed, live projection unchanged: {exc}") from None
        ended, cpu = time.perf_counter(), time.process_time() - cpu
        server_cpu = (bench.graph_server_cpu(store) or 0) - server_cpu if server_cpu is not None else None
        rows = result.nodes + result.edges
        met = result.seconds < bench.TARGET_REBUILD_SECONDS
        say(
            f"rebuild: {result.nodes:,} nodes and {result.edges:,} edges in {result.seconds:.1f} s "
            f"({rows / result.seconds:,.0f} rows/s); target under {bench.TARGET_REBUILD_SECONDS / 60:.0f} min: "
            f"{'PASS' if met else 'FAIL'}"
        )
        if "nodes" in last_batch and "edges" in last_batch:
            node_s, edge_s = last_batch["nodes"] - started, ended - last_batch["nodes"]
            say(
                f"rebuild: nodes {node_s:.1f} s ({result.nodes / node_s:,.0f}/s), edges {edge_s:.1f} s "
                f"({result.edges / edge_s:,.0f}/s); CPU: this process {cpu:.1f} s (reading PostgreSQL, building "
                f"rows, the client)" + (f", graph store server {server_cpu:.1f} s" if server_cpu is not None else "")
            )
        return result

    def _verify(self, tenant, store, nodes, edges):
        say = self.stdout.write
        with tqdm(
            total=nodes + edges + 2 * services.BUCKETS,
            unit=" rows",
            unit_scale=True,
            file=sys.stderr,
            disable=self.quiet,
            desc="graph_verify",
        ) as bar:
            report = services.graph_verify(tenant=tenant, store=store, progress=lambda phase, n: bar.update(n))
        for what in ("nodes", "edges"):
            pg, graph = report.postgres[what], report.graph[what]
            same = pg.count == graph.count and pg.checksum == graph.checksum
            say(
                f"verify {what:5}: postgres {pg.count:>10,} {pg.checksum:016x}  graph {graph.count:>10,} "
                f"{graph.checksum:016x}  {'same' if same else 'DIFFERENT'}"
            )
        say(
            f"verify: {'projection matches PostgreSQL' if report.ok else f'{report.differing_records:,} records differ'}"
        )
        graph = report.graph
        big = graph["nodes"].count >= bench.MIN_NODES and graph["edges"].count >= bench.MIN_EDGES
        say(
            f"projection size: at least {bench.MIN_NODES:,} nodes and {bench.MIN_EDGES:,} edges: "
            f"{'yes' if big else 'NO'}"
        )

    # ---------------------------------------------------------------- measurements

    def _measure(self, tenant, user, raw_token, hops_list, rebuild, options):
        say = self.stdout.write
        subject = access.subject_for(user=user)
        clearance = subject.memberships[tenant.pk].clearance
        limit, budget, count = options["limit"], settings.GRAPH_EXPANSION_BUDGET, options["samples"]
        say(
            f"subject: {user.username}, role {subject.memberships[tenant.pk].role}, clearance "
            f"{Sensitivity(clearance).label.lower()} ({clearance}): records above it are masked stubs one level "
            "up and hidden beyond"
        )
        seeds = bench.seeds_pick(tenant=tenant, count=count, seed=options["seed"], max_sensitivity=clearance)
        hubs = sorted(s.degree for s in seeds if s.hub)
        rest = sorted(s.degree for s in seeds if not s.hub)
        say(
            f"seeds: {len(seeds)} entities the subject can see (seed {options['seed']}): {len(hubs)} hubs drawn "
            f"from the {bench.HUB_POOL:,} highest-degree entities (degree {hubs[0]}-{hubs[-1]}, median "
            f"{statistics.median(hubs):g}) and {len(rest)} uniformly at random (degree {rest[0]}-{rest[-1]}, "
            f"median {statistics.median(rest):g})"
        )
        say(f"page size (limit) {limit} nodes; each path {options['warmup']} seeds warm-up, then every seed once")

        store, pg = get_store(), PostgresAdjacency()
        inproc = {
            "store": lambda s, h: bench.topology_walk(
                store, tenant_id=tenant.pk, seed_id=s.id, hops=h, budget=budget, limit=limit
            ),
            "pg": lambda s, h: bench.topology_walk(
                pg, tenant_id=tenant.pk, seed_id=s.id, hops=h, budget=budget, limit=limit
            ),
            "service": lambda s, h: bench.service_answer(
                subject=subject, seed_id=s.id, hops=h, limit=limit, store=store
            ),
            "service-pg": lambda s, h: bench.service_answer(
                subject=subject, seed_id=s.id, hops=h, limit=limit, store=pg
            ),
        }
        results = {}
        self._run_paths(inproc, seeds, hops_list, options["warmup"], results, "in process")

        log = settings.VAR_DIR / "bench-graph-uvicorn.log"
        log_pg = settings.VAR_DIR / "bench-graph-uvicorn-degraded.log"
        closed = free_port()  # bound once, then released: nothing listens there
        with contextlib.ExitStack() as servers:
            server = servers.enter_context(AsgiServer(log_path=log))
            degraded_server = servers.enter_context(
                AsgiServer(log_path=log_pg, env={"GRAPH_URL": f"falkordb://127.0.0.1:{closed}"})
            )
            say(
                f"servers: uvicorn intelgraph.asgi at {server.url} (log {log}); the same with GRAPH_URL="
                f"falkordb://127.0.0.1:{closed} (nothing listens) at {degraded_server.url} (log {log_pg}); "
                f"server environment {AsgiServer.SERVING_ENV} (as `make run`'s web process, DEBUG off)"
            )
            client = servers.enter_context(
                contextlib.closing(bench.NeighborhoodClient(url=server.url, token=raw_token))
            )
            client_pg = servers.enter_context(
                contextlib.closing(bench.NeighborhoodClient(url=degraded_server.url, token=raw_token))
            )
            api = {
                "api": lambda s, h: client.ask(seed_id=s.id, hops=h, limit=limit),
                "api-pg": lambda s, h: client_pg.ask(seed_id=s.id, hops=h, limit=limit),
            }
            self._run_paths(api, seeds, hops_list, options["warmup"], results, "API")
        self._report(results, hops_list, rebuild, seeds, options)

    def _run_paths(self, paths, seeds, hops_list, warmup, results, what):
        """Every seed along every path, the paths interleaved seed by seed (so drift in the machine's load
        falls on all of them alike); the first ``warmup`` seeds are run once beforehand, untimed."""
        for hops in hops_list:
            for name in paths:
                results[(name, hops)] = bench.PathTimings(name, hops)
        for hops in hops_list:
            for seed in seeds[:warmup]:
                for work in paths.values():
                    work(seed, hops)
        total = len(seeds) * len(hops_list)
        with tqdm(
            total=total, unit=" seeds", file=sys.stderr, disable=self.quiet, desc=f"neighbourhoods, {what}"
        ) as bar:
            for hops in hops_list:
                for seed in seeds:
                    for name, work in paths.items():
                        ms, answer = bench.timed(work, seed, hops)
                        results[(name, hops)].samples.append(bench.Sample(seed, ms, answer))
                    bar.update(1)

    # ---------------------------------------------------------------- report

    def _report(self, results, hops_list, rebuild, seeds, options):
        say = self.stdout.write
        box = bench.machine()
        say(f"\nload average at the end: {box['load']:.2f} on {box['cores']} cores")
        head = f"{'hops':>4}  {'path':<43} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        say("\n" + head + f" {'nodes':>6} {'edges':>6} {'trunc':>5} {'errors':>6}")
        for hops in hops_list:
            for name, label in PATHS:
                timings = results[(name, hops)]
                st = bench.stats(timings.ms())
                answered = [s.answer for s in timings.samples if not s.answer.error]
                nodes = statistics.median([len(a.nodes) for a in answered]) if answered else 0
                edges = statistics.median([len(a.edges) for a in answered]) if answered else 0
                trunc = sum(1 for a in answered if a.truncated)
                say(
                    f"{hops:>4}  {label:<43} {st['p50']:>8.2f} {st['p95']:>8.2f} {st['p99']:>8.2f} "
                    f"{st['max']:>8.2f} {nodes:>6g} {edges:>6g} {trunc:>5} {timings.errors:>6}"
                )
        say("(nodes, edges: median per answer page; trunc: answers truncated by the page size or the budget)")

        say(
            f"\np50 / p95 ms, hubs ({sum(s.hub for s in seeds)} seeds) and random seeds ({sum(not s.hub for s in seeds)})"
        )
        say(f"{'hops':>4}  {'path':<43} {'hubs':>17} {'random':>17}")
        for hops in hops_list:
            for name, label in PATHS:
                timings = results[(name, hops)]
                cells = []
                for hub in (True, False):
                    st = bench.stats(timings.ms(hub=hub))
                    cells.append(f"{st['p50']:.1f} / {st['p95']:.1f}")
                say(f"{hops:>4}  {label:<43} {cells[0]:>17} {cells[1]:>17}")

        say("\nratios (p50 / p95)")
        ratios = (
            ("API / graph store direct", "api", "store"),
            ("API / service (HTTP, GraphQL, token, connection)", "api", "service"),
            ("service / graph store direct", "service", "store"),
            ("PostgreSQL fallback / graph store, service", "service-pg", "service"),
            ("PostgreSQL fallback / graph store, API", "api-pg", "api"),
            ("PostgreSQL adjacency / graph store, direct", "pg", "store"),
        )
        for hops in hops_list:
            for label, top, bottom in ratios:
                a, b = bench.stats(results[(top, hops)].ms()), bench.stats(results[(bottom, hops)].ms())
                say(f"{hops:>4}  {label:<50} {a['p50'] / b['p50']:>6.2f} / {a['p95'] / b['p95']:.2f}")

        say("\nsame answers (node ids in page order and edge ids in order, every seed)")
        checks = (
            ("graph store vs PostgreSQL, direct walk", "store", "pg"),
            ("graph store vs PostgreSQL fallback, service", "service", "service-pg"),
            ("API on the graph store vs service on it", "api", "service"),
            ("API degraded vs service on PostgreSQL", "api-pg", "service-pg"),
        )
        failures = 0
        for hops in hops_list:
            for label, left, right in checks:
                differ = bench.mismatches(results[(left, hops)], results[(right, hops)])
                failures += len(differ)
                say(f"{hops:>4}  {label:<46} {len(differ):>4} mismatches of {len(results[(left, hops)].samples)}")
                for seed_id, a, b in differ[:3]:
                    say(
                        f"        {seed_id}: {len(a.nodes)} nodes / {len(a.edges)} edges {a.error or ''} vs "
                        f"{len(b.nodes)} / {len(b.edges)} {b.error or ''}"
                    )
            answers = [s.answer for s in results[("api-pg", hops)].samples]
            flagged = sum(1 for a in answers if a.degraded)
            graph_flagged = sum(1 for s in results[("api", hops)].samples if s.answer.degraded)
            say(
                f"{hops:>4}  degraded flag: {flagged} of {len(answers)} answers from the server without graph "
                f"store, {graph_flagged} from the one with it"
            )

        say("\ntargets")
        if 2 in hops_list:
            p95 = bench.stats(results[("api", 2)].ms())["p95"]
            met = p95 <= bench.TARGET_API_P95_MS
            say(
                f"  2-hop p95 through the API on {get_store().backend} <= {bench.TARGET_API_P95_MS:g} ms: "
                f"{'PASS' if met else 'FAIL'} ({p95:.1f} ms)"
            )
        if rebuild is None:
            say(f"  full graph_rebuild under {bench.TARGET_REBUILD_SECONDS / 60:g} min: not measured (--skip-rebuild)")
        else:
            met = rebuild.seconds < bench.TARGET_REBUILD_SECONDS
            say(
                f"  full graph_rebuild under {bench.TARGET_REBUILD_SECONDS / 60:g} min: {'PASS' if met else 'FAIL'} "
                f"({rebuild.seconds:.1f} s)"
            )
        say(
            f"  same answers from the graph store and PostgreSQL: {'PASS' if not failures else 'FAIL'} "
            f"({failures} mismatches)"
        )
