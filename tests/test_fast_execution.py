"""The fast completion of leaf-only types answers exactly as graphql-core's standard execution does."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from graphql import ExecutionContext, execute, parse

from apps.access.services import subject_for
from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.graph.services import outbox_drain
from intelgraph import cursors
from intelgraph.graphql.execution import FastLeafExecutionContext
from intelgraph.schema import schema
from tests import factories

pytestmark = pytest.mark.django_db


class Context:
    def __init__(self, user):
        self.user = user
        self.headers = {}
        self.META = {}
        self._ig_subject = subject_for(user=user)


def run(document, variables, user, context_class):
    result = execute(
        schema.graphql_schema,
        parse(document),
        context_value=Context(user),
        variable_values=variables,
        execution_context_class=context_class,
    )
    return result.data, [str(e) for e in result.errors or []]


def test_fast_and_standard_paths_agree_on_a_neighbourhood(tenant_a, monkeypatch):
    # The page cursor carries its expiry in seconds: one clock for both runs, so a second boundary between them
    # does not make the answers differ.
    frozen = cursors.time.time()
    monkeypatch.setattr(cursors, "time", SimpleNamespace(time=lambda: frozen))
    seed = factories.entity(tenant=tenant_a, name="Seed", labels=["vip"])
    for i in range(12):
        other = factories.entity(tenant=tenant_a, name=f"N{i}", sensitivity=Sensitivity.SECRET if i % 3 == 0 else 1)
        services.relationship_create(
            tenant=tenant_a,
            kind="associated_with",
            from_entity=seed,
            to_entity=other,
            sensitivity=Sensitivity.SECRET if i % 4 == 0 else 1,
        )
    user = factories.user(tenant=tenant_a, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL)
    outbox_drain()
    document = Path("graphql/operations/neighborhood_v1.graphql").read_text()
    variables = {"id": str(seed.pk), "hops": 2, "limit": 5}
    fast = run(document, variables, user, FastLeafExecutionContext)
    standard = run(document, variables, user, ExecutionContext)
    assert fast == standard
    assert fast[0]["neighborhood"]["nodes"] and any(n["masked"] for n in fast[0]["neighborhood"]["nodes"])
    preview = Path("graphql/operations/neighborhood_preview_v1.graphql").read_text()
    assert run(preview, {"id": str(seed.pk)}, user, FastLeafExecutionContext) == run(
        preview, {"id": str(seed.pk)}, user, ExecutionContext
    )
