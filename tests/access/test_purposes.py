"""The purposes an action accepts in a tenant come from the policy (policies/purpose.rego ``accepted``)."""

import pytest

from apps.access import bundle as policy
from apps.access import purposes
from apps.access.models import TenantPurpose


def accepted(action, tenant_purposes):
    return policy.evaluate("purpose_accepted", {"action": action, "tenant_purposes": tenant_purposes})


@pytest.mark.parametrize(
    ("action", "tenant_purposes", "expected"),
    [
        # the investigative purposes the tenant has active, in the order the policy lists them
        ("merge", ["fraud-risk", "investigation", "research"], ["investigation", "fraud-risk"]),
        ("merge", ["investigation"], ["investigation"]),
        ("rollback", ["fraud-risk", "research"], ["fraud-risk"]),
        ("merge", ["research"], []),
        # an action without its own list accepts every purpose the tenant has active
        ("export", ["research", "investigation"], ["research", "investigation"]),
    ],
)
def test_purpose_policy_accepted(action, tenant_purposes, expected):
    assert accepted(action, tenant_purposes) == expected


@pytest.mark.parametrize("tenant_purposes", [["investigation", "fraud-risk"], ["investigation"], ["research"], []])
def test_accepted_agrees_with_the_purpose_check(tenant_purposes):
    for purpose in ("investigation", "fraud-risk", "research"):
        check = policy.evaluate(
            "purpose", {"action": "merge", "subject": {"purpose": purpose}, "tenant_purposes": tenant_purposes}
        )
        assert check["allowed"] == (purpose in accepted("merge", tenant_purposes)), (purpose, tenant_purposes)


@pytest.mark.django_db
def test_a_purpose_the_tenant_switched_off_is_not_accepted(tenant_a):
    assert purposes.purposes_accepted(tenant_id=tenant_a.pk, action="merge") == ["investigation", "fraud-risk"]
    TenantPurpose.objects.filter(tenant=tenant_a, code="fraud-risk").update(is_active=False)
    assert purposes.purposes_accepted(tenant_id=tenant_a.pk, action="merge") == ["investigation"]
