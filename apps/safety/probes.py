"""What a restore drill checks through the product itself, run in a process whose settings name the scratch
instance (``manage.py restore_probe``): the graph brought to the restored point, and the product's answers.

Never imported by the live web or worker processes' code paths: ``restore_probe`` refuses to run outside a drill.
"""

from __future__ import annotations

import time
import uuid

from apps.access.services import subject_for
from apps.core.choices import Role, Sensitivity
from apps.core.models import Entity, Membership, Tenant, User
from apps.graph import services as graph
from apps.graph.store import get_store
from apps.search.selectors import SearchInputError, entity_search

ISOLATION_PAIRS = 3
NAMES_PER_PAIR = 5


def graph_probe() -> dict:
    """Replay the restored outbox onto the graph store, verify every tenant, rebuild those that still differ."""
    started = time.perf_counter()
    store = get_store()
    store.ping()
    for tenant in Tenant.objects.all():
        store.reindex(tenant.pk)  # a loaded snapshot's indexes miss entries (see FalkorDBStore.reindex)
    reindexed = time.perf_counter()
    pending = graph.outbox_lag()["pending"]
    replayed = 0
    while True:
        result = graph.outbox_drain(store=store)
        replayed += result.applied
        if not result.applied or not result.remaining:
            break
    at_point = time.perf_counter()
    tenants, rebuilt, problem, before_rebuild = {}, [], None, {}
    for tenant in Tenant.objects.order_by("slug"):
        report = graph.graph_verify(tenant=tenant, store=store, max_listed=5)
        if not report.ok:
            before_rebuild[tenant.slug] = {
                "differing": report.differing_records,
                "graph": {what: report.graph[what].count for what in ("nodes", "edges")},
                "examples": [f"{d.what} {d.id}: {d.problem}" for d in report.differences[:5]],
            }
            graph.graph_rebuild(tenant=tenant, store=store)
            rebuilt.append(tenant.slug)
            report = graph.graph_verify(tenant=tenant, store=store, max_listed=5)
        tenants[tenant.slug] = {
            "entities": Entity.objects.filter(tenant=tenant).count(),
            "nodes": report.postgres["nodes"].count,
            "edges": report.postgres["edges"].count,
            "equal": report.ok,
        }
        if not report.ok and problem is None:
            problem = f"{tenant.slug}: " + "; ".join(f"{d.what} {d.id}: {d.problem}" for d in report.differences[:3])
    return {
        "ok": problem is None,
        "seconds": {
            "reindex": round(reindexed - started, 3),
            "replay": round(at_point - reindexed, 3),
            "verify": round(time.perf_counter() - at_point, 3),
        },
        "pending_at_point": pending,
        "replayed": replayed,
        "tenants": tenants,
        "rebuilt": rebuilt,
        "differences_before_rebuild": before_rebuild,
        "problem": problem,
    }


def product_probe(*, client, audit_verify, started: float) -> dict:
    """readyz, search isolation between tenants, and audit_verify of the restored log."""
    problems = []
    response = client.get("/readyz", HTTP_HOST="127.0.0.1", secure=True)
    readyz_after = time.perf_counter() - started
    try:
        readyz = response.json()
    except ValueError:
        readyz = {}
    if response.status_code != 200:
        problems.append(f"readyz answered {response.status_code}: {readyz.get('status')}")
    pairs, isolation = _isolation(problems)
    audit_ok, audit_said = audit_verify()
    if not audit_ok:
        problems.append(f"audit_verify: {audit_said}")
    return {
        "readyz_status": response.status_code,
        "readyz": readyz.get("status"),
        "readyz_after": round(readyz_after, 3),
        "isolation_pairs": pairs,
        "isolation": isolation,
        "audit": "verified" if audit_ok else "FAILED",
        "audit_said": audit_said,
        "problems": problems,
    }


def _isolation(problems: list[str]) -> tuple[int, list[dict]]:
    """As a reader of tenant A (cleared for everything), search B's entity names: nothing of B may come back.

    A control search for A's own names must find them, so an empty answer is not mistaken for isolation.
    """
    with_entities = [t for t in Tenant.objects.order_by("pk") if Entity.objects.filter(tenant=t).exists()]
    pairs = [(a, b) for a in with_entities for b in with_entities if a != b][:ISOLATION_PAIRS]
    results = []
    for reader_tenant, other in pairs:
        user = User.objects.create(username=f"drill-probe-{uuid.uuid4().hex[:10]}", is_active=True)
        Membership.objects.create(user=user, tenant=reader_tenant, role=Role.READER, clearance=max(Sensitivity.values))
        subject = subject_for(user=user)
        leaked, searched, own_found = 0, 0, 0
        for entity in Entity.objects.filter(tenant=other).order_by("pk")[:NAMES_PER_PAIR]:
            try:
                hits = entity_search(subject=subject, q=entity.display_name, first=50).hits
            except SearchInputError:
                continue
            searched += 1
            leaked += sum(1 for hit in hits if hit.entity.tenant_id != reader_tenant.pk)
        own = Entity.objects.filter(tenant=reader_tenant, sensitivity__lte=max(Sensitivity.values)).order_by("pk")
        for entity in own[:NAMES_PER_PAIR]:
            try:
                hits = entity_search(subject=subject, q=entity.display_name, first=50).hits
            except SearchInputError:
                continue
            own_found += any(hit.entity.pk == entity.pk for hit in hits)
        results.append(
            {
                "reader": reader_tenant.slug,
                "other": other.slug,
                "searched": searched,
                "leaked": leaked,
                "own": own_found,
            }
        )
        if leaked:
            problems.append(f"search as a reader of {reader_tenant.slug} returned {leaked} entities of other tenants")
        if searched and not own_found:
            problems.append(f"control search in {reader_tenant.slug} found none of its own entities")
    return len(pairs), results
