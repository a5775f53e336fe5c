"""Persisted operations are decided by the policy (policies/operations.rego): their safelist roles, and the
access actions their ABAC tags allow while they run (issue 12, item 1)."""

import json

import pytest

from apps.access import bundle as policy
from apps.access import services as access
from apps.access.selectors import readable
from apps.audit.models import AuditEvent
from apps.versioning.safelist import PersistedOperation
from tests import factories

pytestmark = pytest.mark.django_db


def operation(roles=("reader",), abac=("entity.search",)):
    return PersistedOperation(id="test:v1", document="{ apiVersion }", hash="", abac=tuple(abac), roles=tuple(roles))


def check(roles, abac, memberships):
    return policy.evaluate(
        "operation",
        {"operation": {"id": "x", "roles": list(roles), "abac": list(abac)}, "subject": {"memberships": memberships}},
    )


def test_the_policy_decides_roles_and_actions():
    reader = {"1": {"role": "reader", "clearance": 1, "compartments": []}}
    assert check(["reader"], ["entity.search", "entity.read"], reader) == {
        "allowed": True,
        "reason": "",
        "needs": {},
        "actions": ["read", "search"],
    }
    refused = check(["analyst", "admin"], ["entity.read"], reader)
    assert (refused["allowed"], refused["reason"], refused["needs"]) == (False, "OPERATION_ROLE", {"role": "analyst"})
    assert check(["reader"], ["entity.secrets"], reader)["reason"] == "UNKNOWN_TAG"
    assert check(["reader"], ["entity.read"], {})["allowed"] is False


def test_while_an_operation_runs_only_its_declared_actions_are_decided(tenant_a):
    entity = factories.entity(tenant=tenant_a, name="Scoped Person")
    subject = access.subject_for(user=factories.user(tenant=tenant_a, role="reader"))
    assert access.operation_allowed(subject=subject, operation=operation(abac=["entity.search"]))["allowed"]
    assert readable(subject=subject, action="search").page([entity]).decisions[entity.pk].visibility == "visible"
    refused = readable(subject=subject, action="read").page([entity]).decisions[entity.pk]
    assert (refused.visibility, refused.reason) == ("hidden", "OPERATION_SCOPE")
    assert AuditEvent.objects.filter(event_type="access.policy_error", payload__action="read").exists()


def test_a_persisted_operation_needs_its_role_over_http(client, tenant_a):
    outsider = factories.user(tenant=tenant_a, role="reader", username="no-tenant-left")
    outsider.memberships.update(is_active=False)
    client.force_login(outsider)
    body = client.post(
        "/graphql", data=json.dumps({"id": "search:v1", "variables": {"q": "x"}}), content_type="application/json"
    )
    assert body.status_code == 403
    assert body.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "reader or higher" in body.json()["errors"][0]["message"]


def test_safelist_tags_are_the_policys():
    assert access.operation_tags() == {"entity.search", "entity.read", "entity.expand", "entity.export", "tenant.costs"}
