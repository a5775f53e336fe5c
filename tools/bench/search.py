"""The search benchmark (make bench-search): the real ASGI server under a fixed request rate.

Open loop: requests are scheduled on a clock (``rate`` per second for ``duration`` seconds)
and sent whether or not earlier ones have answered, so a slow server shows as latency and
errors instead of quietly lowering the rate. Latency is measured from the scheduled send
time, so time a request waited for a free client thread counts too.

The floor is the selector's page query (the same SQL ``entity_search`` fetches a page with)
run on one persistent connection without HTTP, GraphQL, authentication, policy decision,
snippets or the audit write.
"""

from __future__ import annotations

import base64
import json
import os
import random
import statistics
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Q

from apps.core.models import Entity, Tenant
from apps.search.selectors import entity_search

BENCH_SLUG = "bench-search"
BENCH_ENTITIES = 1_000_000
BENCH_SEED = 42
RARE_MAX_MATCHES = 200  # a "rare" query matches at most this many entities


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    """One search the load mixes in: rare (a full name or rare surname), common (a given name or city), filtered."""

    family: str
    q: str
    filters: dict | None = None
    matches: int = 0  # entities the benchmark reader may see that match (counted before the run)

    @property
    def label(self) -> str:
        return f"{self.q!r}" + (f" {json.dumps(self.filters, ensure_ascii=False)}" if self.filters else "")


class _Rollback(Exception):
    pass


def _in_rolled_back_transaction(work):
    """Run ``work()`` in a transaction that is rolled back (the selector's audit event with it); return its result."""
    box = []
    try:
        with transaction.atomic():
            box.append(work())
            raise _Rollback
    except _Rollback:
        pass
    return box[0]


def _sample_persons(tenant: Tenant, seed: int, limit: int = 4000) -> list[dict]:
    """A repeatable sample of the tenant's person records (a few thousand, from random table pages)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attributes FROM core_entity TABLESAMPLE SYSTEM (2) REPEATABLE (%s) "
            "WHERE tenant_id = %s AND kind = 'person' AND merged_into_id IS NULL LIMIT %s",
            [seed, tenant.pk, limit],
        )
        rows = [row[0] for row in cursor.fetchall()]
    if len(rows) < 200:  # a small tenant: a few table pages hold too few rows
        rows = list(
            Entity.objects.filter(tenant=tenant, kind="person")
            .order_by("?")
            .values_list("attributes", flat=True)[:limit]
        )
    return [row if isinstance(row, dict) else json.loads(row) for row in rows]


def queries_pick(*, tenant: Tenant, subject, seed: int, per_family: int = 8, say=print) -> list[Query]:
    """Search words taken from the tenant's own data, with how many visible entities each matches."""
    rng = random.Random(seed)
    persons = [p for p in _sample_persons(tenant, seed) if p.get("given_name") and p.get("family_name")]
    if len(persons) < 50:
        raise ValueError(f"tenant {tenant.slug} has too few person records to pick search words from")
    given = Counter(p["given_name"] for p in persons)
    family = Counter(p["family_name"] for p in persons)
    cities = Counter(p["city"] for p in persons if p.get("city"))
    say(
        f"query words: sampled {len(persons):,} persons ({len(given)} given names, {len(family)} family names, "
        f"{len(cities)} cities)"
    )

    def counted(family_name, q, filters=None):
        def work():
            result = entity_search(subject=subject, q=q, filters=filters, first=1)
            return result.queryset.order_by().count()

        return Query(family_name, q, filters, _in_rolled_back_transaction(work))

    common_names = [name for name, _ in given.most_common(per_family)]
    common_cities = [city for city, _ in cities.most_common(per_family)]
    common = [counted("common", w) for w in _interleave(common_names, common_cities)[:per_family]]

    # Rare: the least frequent surnames of the sample (typo variants of near-duplicates among them),
    # and full names of people with uncommon surnames; kept when they match few entities.
    rare: list[Query] = []
    uncommon = [name for name, n in sorted(family.items(), key=lambda item: (item[1], item[0])) if n <= 2]
    rng.shuffle(uncommon)
    for name in uncommon[: per_family * 2]:
        query = counted("rare", name)
        if 0 < query.matches <= RARE_MAX_MATCHES:
            rare.append(query)
        if len(rare) >= per_family // 2:
            break
    people = rng.sample(persons, min(len(persons), per_family * 6))
    people.sort(key=lambda p: family[p["family_name"]])
    for person in people:
        if len(rare) >= per_family:
            break
        query = counted("rare", f"{person['given_name']} {person['family_name']}")
        if 0 < query.matches <= RARE_MAX_MATCHES and query.q not in {r.q for r in rare}:
            rare.append(query)

    # Filtered: common words narrowed by kind, attributes and sensitivity, as an analyst narrows a search.
    by_name = {}
    for person in persons:
        by_name.setdefault(person["given_name"], person)
    mid_family = [name for name, _ in family.most_common(40)[10:]]
    templates = [
        lambda i: (common_names[i % len(common_names)], {"kind": "person"}),
        lambda i: (common_cities[i % len(common_cities)], {"kind": ["address", "event"]}),
        lambda i: (
            common_names[i % len(common_names)],
            {"attributes": {"city": by_name[common_names[i % len(common_names)]].get("city", "")}},
        ),
        lambda i: (common_cities[i % len(common_cities)], {"sensitivity": {"lte": "internal"}}),
        lambda i: (
            mid_family[i % len(mid_family)],
            {"kind": "person", "attributes": {"country": _country_of(persons, mid_family[i % len(mid_family)])}},
        ),
        lambda i: (
            common_names[(i + 1) % len(common_names)],
            {"kind": "person", "sensitivity": ["public", "internal"]},
        ),
    ]
    filtered = [counted("filtered", *templates[i % len(templates)](i)) for i in range(per_family)]
    picked = common + rare + filtered
    for name in ("rare", "common", "filtered"):
        counts = sorted(q.matches for q in picked if q.family == name)
        if not counts:
            raise ValueError(f"no {name} queries match anything in tenant {tenant.slug}")
        say(
            f"  {name:<8} {len(counts)} queries, visible matches {counts[0]:,}-{counts[-1]:,} "
            f"(median {statistics.median(counts):,.0f}), e.g. "
            + "; ".join(q.label for q in picked if q.family == name)[:200]
        )
    return picked


def _interleave(a: list, b: list) -> list:
    return [x for pair in zip(a, b, strict=False) for x in pair]


def _country_of(persons: list[dict], family_name: str) -> str:
    return next((p.get("country", "") for p in persons if p["family_name"] == family_name), "")


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class SearchRequest:
    query: Query
    after: str | None = None

    @property
    def kind(self) -> str:
        return "next page" if self.after else self.query.family

    @property
    def key(self) -> tuple:
        return self.query.family, self.query.label, self.after


@dataclass
class Outcome:
    request: SearchRequest
    ms: float
    error: str | None
    next_cursor: str | None = None


@dataclass
class Phase:
    rate: float
    duration: float
    outcomes: list[Outcome] = field(default_factory=list)
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds: machine (all cores), server, load generator

    @property
    def errors(self) -> Counter:
        return Counter(o.error for o in self.outcomes if o.error)

    @property
    def answered(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.error]


class _Client:
    """POSTs the persisted search:v1 operation over a keep-alive connection per thread."""

    def __init__(self, *, url: str, token: str, first: int, timeout: float):
        self.host, self.port = url.removeprefix("http://").split(":")
        self.token, self.first, self.timeout = token, first, timeout
        self.local = threading.local()

    def _connection(self):
        if getattr(self.local, "connection", None) is None:
            self.local.connection = HTTPConnection(self.host, int(self.port), timeout=self.timeout)
        return self.local.connection

    def send(self, request: SearchRequest) -> tuple[str | None, str | None]:
        """(error, nextCursor): error is None for a 200 answer without GraphQL errors."""
        variables = {"q": request.query.q, "first": self.first}
        if request.query.filters:
            variables["filters"] = json.dumps(request.query.filters)
        if request.after:
            variables["after"] = request.after
        body = json.dumps({"id": "search:v1", "variables": variables}).encode()
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.token}"}
        try:
            connection_ = self._connection()
            connection_.request("POST", "/graphql", body=body, headers=headers)
            response = connection_.getresponse()
            payload = response.read()
        except (OSError, TimeoutError) as exc:
            self.local.connection.close()
            self.local.connection = None
            return ("timeout" if isinstance(exc, TimeoutError) else type(exc).__name__), None
        try:
            data = json.loads(payload)
        except ValueError:
            return f"HTTP {response.status} (not JSON)", None
        if data.get("errors"):
            return str(data["errors"][0].get("extensions", {}).get("code", "GraphQL error")), None
        if response.status != 200:
            return f"HTTP {response.status}", None
        return None, data["data"]["search"]["nextCursor"]


def drive(
    *,
    url: str,
    token: str,
    queries: list[Query],
    rate: float,
    duration: float,
    first: int,
    next_share: float,
    timeout: float,
    seed: int,
    server_pid: int | None = None,
) -> Phase:
    """Send rate x duration searches on a fixed schedule (open loop) and return each one's outcome.

    A share of the requests (``next_share``) asks for the next page of an earlier answer instead of a
    new search. Latency runs from the scheduled send time, so a request that waited for a free client
    thread (the server falling behind) counts that wait.
    """
    rng = random.Random(seed)
    client = _Client(url=url, token=token, first=first, timeout=timeout)
    pages: deque[tuple[Query, str]] = deque(maxlen=500)  # answers with a next page, newest last
    phase = Phase(rate=rate, duration=duration)
    total = max(1, round(rate * duration))
    workers = min(256, max(8, int(rate * 4)))

    def one(request: SearchRequest, scheduled: float) -> Outcome:
        error, next_cursor = client.send(request)
        outcome = Outcome(request, (time.perf_counter() - scheduled) * 1000, error, next_cursor)
        if next_cursor:
            pages.append((request.query, next_cursor))
        return outcome

    futures = []
    cpu_before = _cpu_now(server_pid)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-search") as pool:
        start = time.perf_counter() + 0.05
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            request = None
            if rng.random() < next_share:
                try:
                    query, cursor = pages.pop()
                    request = SearchRequest(query, after=cursor)
                except IndexError:
                    pass
            if request is None:
                request = SearchRequest(rng.choice(queries))
            futures.append(pool.submit(one, request, scheduled))
        phase.outcomes = [f.result() for f in futures]
        phase.wall = time.perf_counter() - start
    cpu_after = _cpu_now(server_pid)
    phase.cpu = {key: cpu_after[key] - cpu_before[key] for key in cpu_before if key in cpu_after}
    return phase


def _cpu_now(server_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far: by the whole machine (busy time of all cores), the server process, this process.

    Linux only (/proc); elsewhere just this process. The rest of the machine's busy time is PostgreSQL,
    Redis and whatever else runs.
    """
    used = {"generator": time.process_time()}
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        used["machine"] = (sum(values[:8]) - values[3] - values[4]) / ticks  # all but idle and iowait
        if server_pid:
            stat = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
            used["server"] = (int(stat[11]) + int(stat[12])) / ticks  # utime + stime, all threads
    except (OSError, ValueError, IndexError):
        pass
    return used


# --------------------------------------------------------------------------- the floor


def page_sql(*, subject, request: SearchRequest, first: int) -> tuple[str, tuple]:
    """The SQL and parameters ``entity_search`` fetches this request's page with (rows first + 1)."""

    def work():
        result = entity_search(
            subject=subject, q=request.query.q, filters=request.query.filters, after=request.after, first=first
        )
        queryset = result.queryset
        if request.after:  # the selector checked the cursor; read its position as the selector does
            body = request.after.split(".", 1)[0]
            position = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            queryset = queryset.filter(Q(score__lt=position["s"]) | Q(score=position["s"], id__gt=position["i"]))
        page = queryset.defer("search_vector").order_by("-score", "id")[: first + 1]
        return page.query.sql_with_params()

    return _in_rolled_back_transaction(work)


def sql_floor(*, subject, requests: list[SearchRequest], first: int) -> list[tuple[SearchRequest, float]]:
    """Each request's page query run directly on one open connection: (request, milliseconds)."""
    compiled = {}
    for request in requests:
        if request.key not in compiled:
            compiled[request.key] = page_sql(subject=subject, request=request, first=first)
    timings = []
    with connection.cursor() as cursor:
        for request in requests:
            sql, params = compiled[request.key]
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            timings.append((request, (time.perf_counter() - started) * 1000))
    return timings


def explain(*, subject, request: SearchRequest, first: int) -> str:
    sql, params = page_sql(subject=subject, request=request, first=first)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())
