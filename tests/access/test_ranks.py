"""Roles and their order come from the policy (policies/roles.rego), never from a copy in Python (issue 12)."""

import pytest

from apps.access import bundle as policy
from apps.access import ranks
from apps.access import services as access
from apps.core import services
from apps.core.choices import Role
from tests import factories

ORDER = ("reader", "analyst", "reviewer", "compliance", "admin")


def check(held, least=None):
    document = {"held": held} if least is None else {"held": held, "least": least}
    return policy.evaluate("roles", document)


def test_the_policy_ranks_roles_and_finds_who_holds_at_least_one():
    held = {"1": "reviewer", "2": "reader", "3": "admin", "4": "analyst"}
    assert check(held, "reviewer") == {"at_least": ["1", "3"], "highest": "admin"}
    assert check(held, "reader")["at_least"] == ["1", "2", "3", "4"]
    assert check({"1": "compliance", "2": "analyst"})["highest"] == "compliance"
    assert check({}, "reader") == {"at_least": [], "highest": None}


def test_a_role_the_policy_does_not_know_holds_nothing():
    assert check({"1": "superuser"}, "reader") == {"at_least": [], "highest": None}
    assert check({"1": "admin"}, "superuser")["at_least"] == []
    assert not ranks.role_at_least(role="superuser", least="reader")
    assert ranks.role_highest(roles=["superuser", "reader"]) == "reader"


def test_roles_rank_in_the_policys_order_which_the_model_choices_follow():
    assert ranks.roles() == ORDER
    assert tuple(Role.values) == ranks.roles()
    for i, role in enumerate(ORDER):
        for j, least in enumerate(ORDER):
            assert ranks.role_at_least(role=role, least=least) == (i >= j), (role, least)


def test_highest_role():
    assert ranks.role_highest(roles=["analyst", "admin", "reader"]) == "admin"
    assert ranks.role_highest(roles=[Role.REVIEWER, Role.COMPLIANCE]) == "compliance"
    assert ranks.role_highest(roles=[]) is None


@pytest.mark.django_db
def test_tenants_with_role_are_those_where_the_subject_holds_it_or_higher(tenant_a, tenant_b):
    user = factories.user(tenant=tenant_a, role=Role.REVIEWER)
    services.membership_set(user=user, tenant=tenant_b, role=Role.ANALYST)
    subject = access.subject_for(user=user)
    assert ranks.tenants_with_role(subject=subject, role=Role.REVIEWER) == [tenant_a.pk]
    assert sorted(ranks.tenants_with_role(subject=subject, role="analyst")) == sorted([tenant_a.pk, tenant_b.pk])
    assert ranks.tenants_with_role(subject=subject, role=Role.ADMIN) == []


def test_a_new_bundle_is_asked_again_not_served_from_the_cache(tmp_path):
    # Given answers cached for the bundle in force
    assert ranks.role_highest(roles=["compliance", "admin"]) == "admin"
    in_force = policy.current_bundle()
    for path, text in in_force.sources.items():
        (tmp_path / path.split("/")[-1]).write_text(text)
    roles_rego = tmp_path / "roles.rego"
    roles_rego.write_text(
        roles_rego.read_text().replace(
            'role_rank := {"reader": 0, "analyst": 1, "reviewer": 2, "compliance": 3, "admin": 4}',
            'role_rank := {"reader": 0, "analyst": 1, "reviewer": 2, "compliance": 4, "admin": 3}',
        )
    )
    # When a bundle ranking compliance above admin is put in force
    policy.replace_bundle(policy.compile_bundle(tmp_path))
    try:
        # Then every answer follows it
        assert ranks.roles()[-1] == "compliance"
        assert ranks.role_highest(roles=["compliance", "admin"]) == "compliance"
        assert not ranks.role_at_least(role="admin", least="compliance")
    finally:
        policy.replace_bundle(in_force)
    assert ranks.role_highest(roles=["compliance", "admin"]) == "admin"
