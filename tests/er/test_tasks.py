"""Entity resolution on real Celery workers: batch blocks fanned out, and the online path after a write."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from apps.core import services
from apps.er import runs
from apps.er.models import CandidatePair
from intelgraph.celery import app
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

ADA = {"given_name": "Ada", "family_name": "Lovelace", "birth_date": "1815-12-10", "email": "ada@example.org"}


def test_blocks_scored_by_workers_give_the_same_pairs_as_in_process(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tenant = services.tenant_create(slug="fanout")
    for i in range(3):
        factories.entity(tenant=tenant, name="Ada Lovelace", attributes={**ADA, "city": ["London", "Londn", ""][i]})
    factories.entity(
        tenant=tenant, name="Charles Babbage", attributes={"given_name": "Charles", "family_name": "Babbage"}
    )
    local = runs.run(tenant=tenant, kind="person", pairs_per_block=1)
    pairs_local = sorted(CandidatePair.objects.filter(tenant=tenant).values_list("entity_a", "entity_b", "score"))
    CandidatePair.objects.filter(tenant=tenant).delete()
    app.control.purge()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        remote = runs.run(tenant=tenant, kind="person", pairs_per_block=1, parallel=True)
    pairs_remote = sorted(CandidatePair.objects.filter(tenant=tenant).values_list("entity_a", "entity_b", "score"))
    assert (remote.candidate_pairs, remote.review) == (local.candidate_pairs, local.review) and local.review >= 3
    assert [(a, b, round(s, 9)) for a, b, s in pairs_remote] == [(a, b, round(s, 9)) for a, b, s in pairs_local]


def test_a_new_entity_is_scored_online_after_commit(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tenant = services.tenant_create(slug="online", feature_flags={"er": True})
    first = factories.entity(tenant=tenant, name="Ada Lovelace", attributes=ADA)
    app.control.purge()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        second = factories.entity(tenant=tenant, name="Ada Lovelace", attributes={**ADA, "phone": "+44 20 7946 0000"})
        deadline = time.monotonic() + 30
        while not CandidatePair.objects.filter(tenant=tenant).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    pair = CandidatePair.objects.get(tenant=tenant)
    assert {pair.entity_a_id, pair.entity_b_id} == {first.pk, second.pk} and pair.score > 0.9
    assert pair.status == "pending"  # online scoring never merges by itself


def test_tenants_without_the_er_flag_are_not_scored_online():
    tenant = services.tenant_create(slug="no-er")
    factories.entity(tenant=tenant, name="Ada Lovelace", attributes=ADA)
    entity = factories.entity(tenant=tenant, name="Ada Lovelace", attributes=ADA)
    assert runs.score_entity(entity_id=entity.pk) == {"scored": 0}
