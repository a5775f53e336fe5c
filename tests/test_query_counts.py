"""Query-count baselines for the read paths that list things (NetBox style): tests/query_counts.json holds the
expected number of SQL queries of each, and a change that moves one must update the file on purpose.

    UPDATE_QUERY_COUNTS=1 pytest tests/test_query_counts.py   # rewrite the baselines after a deliberate change

Each path is run once to warm the per-process caches (the policy bundle's recorded row, decision caches), then
measured twice; the two measurements must agree, so a baseline never depends on test order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core.choices import Role, Sensitivity
from apps.graph.services import outbox_drain
from tests import factories

pytestmark = pytest.mark.django_db

BASELINES = Path(__file__).with_name("query_counts.json")
UPDATE = os.environ.get("UPDATE_QUERY_COUNTS") == "1"
PAGE = 20


@pytest.fixture
def world(tenant_a):
    people = [
        factories.entity(tenant=tenant_a, name=f"Counted Person {i:02d}", attributes={"city": "Oslo"})
        for i in range(PAGE)
    ]
    seed, neighbours = people[0], people[1:]
    for other in neighbours:  # 1 hop: the seed and 19 neighbours, 20 nodes
        factories.relationship(tenant=tenant_a, kind="associated_with", from_entity=seed, to_entity=other)
    factories.relationship(tenant=tenant_a, kind="associated_with", from_entity=people[1], to_entity=people[2])
    for i in range(PAGE):
        factories.candidate_pair(tenant=tenant_a, a=people[i], b=people[(i + 2) % PAGE], score=0.8)
    outbox_drain()
    member = factories.user(
        tenant=tenant_a, role=Role.REVIEWER, clearance=Sensitivity.CONFIDENTIAL, staff=True, username="counter"
    )
    member.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(member)
    return {"people": people, "seed": seed, "client": client}


def measured(name: str, run, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # what is recorded after a commit, recorded now
        run()
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            run()
        counts.append(len(captured))
    assert counts[0] == counts[1], f"{name}: {counts} queries on two warm runs; the baseline would be unstable"
    baselines = json.loads(BASELINES.read_text()) if BASELINES.exists() else {}
    if UPDATE:
        baselines[name] = counts[0]
        BASELINES.write_text(json.dumps(dict(sorted(baselines.items())), indent=2) + "\n")
        return
    assert name in baselines, f"{name} has no baseline in {BASELINES.name}; run with UPDATE_QUERY_COUNTS=1 to add it"
    assert counts[0] == baselines[name], (
        f"{name} ran {counts[0]} queries; the baseline in tests/{BASELINES.name} is {baselines[name]}. If the change "
        "is deliberate, rerun with UPDATE_QUERY_COUNTS=1 and commit the file with the figures in the message."
    )


def graphql(world, gql, operation_id, variables, check):
    caller = gql(client=world["client"])

    def run():
        body = caller.post(operation_id, variables)
        assert not body.errors, body
        check(body.data)

    return run


def test_entity(world, gql, django_capture_on_commit_callbacks):
    run = graphql(world, gql, "entity:v1", {"id": str(world["seed"].pk)}, lambda d: d["entity"]["id"])
    measured("graphql.entity", run, django_capture_on_commit_callbacks)


def test_search_page(world, gql, django_capture_on_commit_callbacks):
    def page_of_20(data):
        assert len(data["search"]["hits"]) == PAGE

    run = graphql(world, gql, "search:v1", {"q": "counted", "first": PAGE}, page_of_20)
    measured("graphql.search.page20", run, django_capture_on_commit_callbacks)


def test_neighborhood_one_hop(world, gql, django_capture_on_commit_callbacks):
    def twenty_nodes(data):
        assert len(data["neighborhood"]["nodes"]) == PAGE

    variables = {"id": str(world["seed"].pk), "hops": 1, "limit": PAGE}
    run = graphql(world, gql, "neighborhood:v1", variables, twenty_nodes)
    measured("graphql.neighborhood.hop1.nodes20", run, django_capture_on_commit_callbacks)


def test_graph_nodes(world, gql, django_capture_on_commit_callbacks):
    def twenty_nodes(data):
        assert len(data["graphNodes"]) == PAGE

    run = graphql(world, gql, "graph-nodes:v1", {"ids": [str(p.pk) for p in world["people"]]}, twenty_nodes)
    measured("graphql.graphNodes.ids20", run, django_capture_on_commit_callbacks)


@pytest.mark.parametrize(
    ("name", "url", "marker"),
    [
        ("admin.changelist.entity.rows20", "/admin/core/entity/", "/admin/core/entity/"),
        ("admin.changelist.relationship.rows20", "/admin/core/relationship/", "/admin/core/relationship/"),
        ("admin.changelist.candidatepair.rows20", "/admin/er/candidatepair/", "/admin/er/candidatepair/"),
    ],
)
def test_admin_changelist(world, name, url, marker, django_capture_on_commit_callbacks):
    def run():
        response = world["client"].get(url)
        assert response.status_code == 200
        assert response.context["cl"].result_count == PAGE, response.context["cl"].result_count

    measured(name, run, django_capture_on_commit_callbacks)


def test_every_baseline_is_measured():
    """A baseline nobody measures any more is a stale promise: remove it with the test."""
    names = {
        "graphql.entity",
        "graphql.search.page20",
        "graphql.neighborhood.hop1.nodes20",
        "graphql.graphNodes.ids20",
        "admin.changelist.entity.rows20",
        "admin.changelist.relationship.rows20",
        "admin.changelist.candidatepair.rows20",
    }
    assert set(json.loads(BASELINES.read_text())) == names
