"""The graph neighbourhood benchmark (make bench-graph): 1-hop and 2-hop neighbourhoods on a big projection.

One run measures the same seeds along every path a neighbourhood can take, one request at a time:

* **graph store, direct**: the breadth-first walk's per-hop ``store.expand`` calls (topology only: no
  PostgreSQL, no policy, no audit), as ``selectors._walk`` issues them;
* **PostgreSQL adjacency, direct**: the same walk on ``apps.graph.store.PostgresAdjacency`` (the fallback's topology);
* **service**: ``selectors.neighborhood`` in this process (seed check, per-hop expansion, PostgreSQL rows,
  policy decisions, the ``graph.expanded`` audit event), on the graph store and on the PostgreSQL fallback;
* **API**: the real ASGI server (uvicorn) answering the persisted ``neighborhood:v1`` operation over one
  keep-alive connection, once as configured and once with ``GRAPH_URL`` pointing at a closed port, so every
  answer comes from the PostgreSQL fallback (``degraded``).

Every answer is kept, so the graph store's and PostgreSQL's answers are compared seed by seed.
The server, the reader and the tenant loader are the search benchmark's (``tools.asgi_server``,
``tools.bench.tenants``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path

from django.db import connection

from apps.core.models import Tenant
from apps.graph.selectors import neighborhood
from tools.bench.stats import percentile

BENCH_SLUG = "bench-graph"
BENCH_ENTITIES = 1_800_000  # about 3,060,000 relationships with the demo generator
BENCH_SEED = 7
SEED_MINUTES = 11  # seeding the tenant on the 2-core development machine (634 s)
HUB_SHARE = 0.1  # share of the seeds taken from the highest-degree entities
HUB_POOL = 200  # ... picked among this many of them (degree 29-93 in the demo tenant)
TARGET_API_P95_MS = 50.0  # 2-hop p95 through the API on FalkorDB
TARGET_REBUILD_SECONDS = 300.0  # full graph_rebuild of the projection
MIN_NODES, MIN_EDGES = 1_000_000, 3_000_000  # the projection the targets are stated for


# --------------------------------------------------------------------------- the machine


def machine() -> dict:
    """Cores, RAM in GiB and the 1-minute load average (Linux; None where unknown)."""
    ram = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 1024 / 1024
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cores": os.cpu_count(), "ram_gib": ram, "load": load}


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seed:
    """An entity a neighbourhood starts from: its id, its degree (edges touching it), and whether it is a hub."""

    id: str
    degree: int
    hub: bool


def seeds_pick(*, tenant: Tenant, count: int, seed: int, max_sensitivity: int) -> list[Seed]:
    """``count`` entities the reader can see, repeatably: HUB_SHARE of them among the HUB_POOL highest-degree
    entities (hubs are the expensive case), the rest uniformly over the tenant (ordered by a keyed hash)."""
    hubs_wanted = round(count * HUB_SHARE)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id, d.degree FROM ("
            " SELECT id, count(*) AS degree FROM ("
            "  SELECT from_entity_id AS id FROM core_relationship WHERE tenant_id = %(t)s"
            "  UNION ALL SELECT to_entity_id FROM core_relationship WHERE tenant_id = %(t)s) AS ends"
            " GROUP BY id) AS d JOIN core_entity e ON e.id = d.id "
            "WHERE e.tenant_id = %(t)s AND e.sensitivity <= %(s)s "
            "ORDER BY d.degree DESC, e.id LIMIT %(n)s",
            {"t": tenant.pk, "s": max_sensitivity, "n": HUB_POOL},
        )
        pool = [(str(pk), degree) for pk, degree in cursor.fetchall()]
        hubs = random.Random(seed).sample(pool, min(hubs_wanted, len(pool)))
        taken = {pk for pk, _ in hubs}
        cursor.execute(
            "SELECT id FROM core_entity WHERE tenant_id = %s AND sensitivity <= %s "
            "ORDER BY md5(id::text || %s), id LIMIT %s",
            [tenant.pk, max_sensitivity, str(seed), count + len(taken)],
        )
        others = [str(row[0]) for row in cursor.fetchall() if str(row[0]) not in taken][: count - len(hubs)]
        cursor.execute(
            "SELECT x.id, (SELECT count(*) FROM core_relationship r WHERE r.from_entity_id = x.id) "
            "+ (SELECT count(*) FROM core_relationship r WHERE r.to_entity_id = x.id) "
            "FROM unnest(%s::uuid[]) AS x(id)",
            [others],
        )
        degrees = {str(pk): degree for pk, degree in cursor.fetchall()}
    picked = [Seed(pk, degree, True) for pk, degree in hubs] + [Seed(pk, degrees[pk], False) for pk in others]
    random.Random(seed + 1).shuffle(picked)  # hubs spread over the run, not bunched at its start
    return picked


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """What a path answered for one seed: the page's node ids in order and its edge ids in order."""

    nodes: tuple[str, ...]
    edges: tuple[str, ...]
    total_nodes: int = 0
    truncated: bool = False
    degraded: bool = False
    error: str | None = None

    @property
    def key(self) -> tuple:
        return self.nodes, self.edges


def topology_walk(adjacency, *, tenant_id: int, seed_id: str, hops: int, budget: int, limit: int) -> Answer:
    """The breadth-first walk of ``selectors._walk`` without PostgreSQL rows or policy: per hop one
    ``expand`` call (frontier, the previous hop's edges as ``seen``, the rest of the edge budget as limit);
    the first ``limit`` nodes in breadth-first order, and every edge met."""
    order, nodes, edges = [seed_id], {seed_id}, {}
    frontier, last_edges, exhausted = [seed_id], [], False
    for _hop in range(hops):
        remaining = budget - len(edges)
        if not frontier or remaining <= 0:
            exhausted = exhausted or (remaining <= 0 and bool(frontier))
            break
        steps = adjacency.expand(tenant_id, frontier, seen=last_edges, limit=remaining)
        exhausted = exhausted or len(steps) >= remaining
        new_edges = {}
        for step in steps:
            if step.edge_id not in edges:
                new_edges.setdefault(step.edge_id, step)
        next_frontier = []
        for edge_id, step in new_edges.items():
            if step.far not in nodes:
                nodes.add(step.far)
                order.append(step.far)
                next_frontier.append(step.far)
            edges[edge_id] = step
        frontier, last_edges = next_frontier, list(new_edges)
    return Answer(tuple(order[:limit]), tuple(edges), len(order), len(order) > limit or exhausted)


def service_answer(*, subject, seed_id: str, hops: int, limit: int, store) -> Answer:
    result = neighborhood(subject=subject, entity_id=seed_id, hops=hops, limit=limit, store=store)
    return Answer(
        tuple(n.id for n in result.nodes),
        tuple(e.id for e in result.edges),
        result.total_nodes,
        result.truncated,
        result.degraded,
    )


class NeighborhoodClient:
    """POSTs the persisted neighborhood:v1 operation over one keep-alive connection (requests one at a time)."""

    def __init__(self, *, url: str, token: str, timeout: float = 30.0):
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
        self.connection: HTTPConnection | None = None

    def ask(self, *, seed_id: str, hops: int, limit: int) -> Answer:
        body = json.dumps({"id": "neighborhood:v1", "variables": {"id": seed_id, "hops": hops, "limit": limit}})
        for attempt in (1, 2):
            reused = self.connection is not None
            try:
                if self.connection is None:
                    self.connection = HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.connection.request("POST", "/graphql", body=body.encode(), headers=self.headers)
                response = self.connection.getresponse()
                payload = response.read()
                break
            except OSError as exc:  # RemoteDisconnected is a ConnectionResetError
                self.close()
                if reused and attempt == 1 and not isinstance(exc, TimeoutError):
                    continue  # the server closed an idle keep-alive connection: once more on a new one
                return Answer((), (), error="timeout" if isinstance(exc, TimeoutError) else type(exc).__name__)
        try:
            data = json.loads(payload)
        except ValueError:
            return Answer((), (), error=f"HTTP {response.status} (not JSON)")
        if data.get("errors"):
            return Answer((), (), error=str(data["errors"][0].get("extensions", {}).get("code", "GraphQL error")))
        if response.status != 200:
            return Answer((), (), error=f"HTTP {response.status}")
        hood = data["data"]["neighborhood"]
        return Answer(
            tuple(n["id"] for n in hood["nodes"]),
            tuple(e["id"] for e in hood["edges"]),
            hood["totalNodes"],
            hood["truncated"],
            hood["degraded"],
        )

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# --------------------------------------------------------------------------- timing


def graph_server_cpu(store) -> float | None:
    """CPU seconds the graph store's server process has used (FalkorDB: Redis INFO cpu), or None."""
    with contextlib.suppress(Exception):
        info = store._db.connection.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return None


@dataclass
class Sample:
    seed: Seed
    ms: float
    answer: Answer


@dataclass
class PathTimings:
    """One path at one number of hops: a sample per seed."""

    path: str
    hops: int
    samples: list[Sample] = field(default_factory=list)

    def ms(self, *, hub: bool | None = None) -> list[float]:
        return [s.ms for s in self.samples if hub is None or s.seed.hub == hub]

    def answers(self) -> dict[str, Answer]:
        return {s.seed.id: s.answer for s in self.samples}

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.answer.error)


def timed(work: Callable[..., Answer], *args) -> tuple[float, Answer]:
    started = time.perf_counter()
    answer = work(*args)
    return (time.perf_counter() - started) * 1000, answer


def stats(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {"p50": statistics.median(ms), "p95": percentile(ms, 0.95), "p99": percentile(ms, 0.99), "max": max(ms)}


def mismatches(left: PathTimings, right: PathTimings) -> list[tuple[str, Answer, Answer]]:
    """Seeds whose answers differ (node ids in order, edge ids in order); errors on either side count."""
    a, b = left.answers(), right.answers()
    return [(seed, a[seed], b[seed]) for seed in a if seed in b and (a[seed].error or a[seed].key != b[seed].key)]
