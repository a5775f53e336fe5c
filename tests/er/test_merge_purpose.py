"""A merge materialises only under a purpose the policy accepts for merges in the tenant: an investigative purpose
the tenant has active (policies/purpose.rego ``accepted``), whoever asks: a service call, a run, er_run."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.access.models import TenantPurpose
from apps.er import runs
from apps.er import services as er
from apps.er.choices import PairStatus
from apps.er.models import CandidatePair, Merge
from tests import factories

pytestmark = pytest.mark.django_db

ADA = {"given_name": "Ada", "family_name": "Lovelace", "birth_date": "1815-12-10", "email": "ada@example.org"}


@pytest.fixture
def twins(tenant_a):
    """Two records of one person, scored above the auto-merge threshold."""
    er.thresholds_set(tenant=tenant_a, auto_merge=0.97, review=0.5)
    return [factories.entity(tenant=tenant_a, name="Ada Lovelace", attributes=ADA) for _ in range(2)]


def switch_off(tenant, code):
    TenantPurpose.objects.filter(tenant=tenant, code=code).update(is_active=False)


def test_a_purpose_outside_the_tenants_active_list_is_refused_as_today(tenant_a, twins):
    # Given a tenant that switched fraud-risk off
    switch_off(tenant_a, "fraud-risk")
    # When a merge is asked for under it
    with pytest.raises(er.ERError) as refused:
        er.merge_materialize(tenant=tenant_a, entities=twins, purpose="fraud-risk")
    # Then it is refused with today's code and message, naming only what the tenant accepts
    assert refused.value.code == "purpose"
    assert refused.value.messages == ["A merge materialises only under the purpose investigation."]
    assert not Merge.objects.exists()
    # and the purpose still active merges
    assert er.merge_materialize(tenant=tenant_a, entities=twins, purpose="investigation").pk


def test_a_tenant_with_no_investigative_purpose_active_merges_nothing(tenant_a, twins):
    switch_off(tenant_a, "fraud-risk")
    switch_off(tenant_a, "investigation")
    with pytest.raises(er.ERError, match="this tenant has none active") as refused:
        er.merge_materialize(tenant=tenant_a, entities=twins, purpose="investigation")
    assert refused.value.code == "purpose"
    assert not Merge.objects.exists()


def test_a_run_under_a_switched_off_purpose_leaves_pairs_for_review(tenant_a, twins):
    switch_off(tenant_a, "fraud-risk")
    result = runs.run(tenant=tenant_a, kind="person", purpose="fraud-risk")
    assert result.merged_clusters == 0 and not Merge.objects.exists()
    assert CandidatePair.objects.filter(tenant=tenant_a, status=PairStatus.PENDING).count() == 1
    assert any("pairs above the threshold wait for review" in note for note in result.notes)


def test_er_run_refuses_a_purpose_the_tenant_does_not_accept_before_running(tenant_a, twins):
    with pytest.raises(CommandError, match=r"--purpose must be investigation or fraud-risk in alpha \(merges need"):
        call_command("er_run", "--tenant", "alpha", "--purpose", "marketing", verbosity=0)
    switch_off(tenant_a, "fraud-risk")
    with pytest.raises(CommandError, match="--purpose must be investigation in alpha"):
        call_command("er_run", "--tenant", "alpha", "--purpose", "fraud-risk", verbosity=0)
    assert not CandidatePair.objects.exists()
    out = StringIO()
    call_command("er_run", "--tenant", "alpha", "--purpose", "investigation", verbosity=0, stdout=out)
    assert "1 clusters merged" in out.getvalue() and Merge.objects.filter(automatic=True).count() == 1
