"""Online entity resolution follows core's transactional outbox: an import is scored like the same single writes,
by a real worker, batch-wise; what is not scored is still consumed, and one failing record holds up only itself."""

import json
import time

import pytest
from celery.contrib.testing.worker import start_worker

from apps.core import services
from apps.core.importing import entities_import
from apps.core.models import Entity, OutboxEvent
from apps.er import online
from apps.er.models import CandidatePair
from intelgraph.celery import app
from tests import factories

ADA = {"given_name": "Ada", "family_name": "Lovelace", "birth_date": "1815-12-10", "email": "ada@example.org"}
BABBAGE = {"given_name": "Charles", "family_name": "Babbage", "birth_date": "1791-12-26"}
# Duplicates found by name, by a shared e-mail, by family name and birth date, by a registration number; and
# records with no candidate at all.
RECORDS = [
    ("P1", "person", "Ada Lovelace", ADA),
    ("P2", "person", "Ada Lovelace", {**ADA, "phone": "+44 20 7946 0000"}),
    ("P3", "person", "Augusta Ada King", {"given_name": "Augusta", "email": "ada@example.org"}),
    ("P4", "person", "Charles Babbage", BABBAGE),
    ("P5", "person", "C. Babbage", {**BABBAGE, "city": "London"}),
    ("P6", "person", "Mary Somerville", {"given_name": "Mary", "family_name": "Somerville"}),
    ("O1", "organization", "Analytical Engines Ltd", {"registration_number": "GB-1842", "city": "London"}),
    ("O2", "organization", "Analytical Engines Limited", {"registration_number": "GB-1842"}),
    ("A1", "account", "Account 1", {"iban": "GB33BUKB20201555555555"}),
]


def import_file(tmp_path, records=RECORDS):
    path = tmp_path / "records.jsonl"
    path.write_text(
        "".join(
            json.dumps({"external_id": ext, "kind": kind, "name": name, "attributes": attributes}) + "\n"
            for ext, kind, name, attributes in records
        )
    )
    return path


def write_one(tenant, record):
    ext, kind, name, attributes = record
    return services.entity_create(tenant=tenant, kind=kind, display_name=name, attributes=attributes, external_id=ext)


def pairs(tenant) -> set[tuple]:
    """The tenant's candidate pairs by external ids, as a reviewer sees them."""
    external = dict(Entity.objects.filter(tenant=tenant).values_list("pk", "external_id"))
    return {
        (*sorted((external[a], external[b])), round(score, 9), status, by_rules, len(explanation) > 0)
        for a, b, score, status, by_rules, explanation in CandidatePair.objects.filter(tenant=tenant).values_list(
            "entity_a", "entity_b", "score", "status", "by_rules", "explanation"
        )
    }


def pending(tenant) -> int:
    return OutboxEvent.objects.filter(consumer="er", tenant_id=tenant.pk).count()


def wait_until(condition, timeout=60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# --------------------------------------------------------------------------- the same scores as single writes


@pytest.mark.django_db
def test_a_batch_gives_the_pairs_its_records_get_written_and_scored_one_at_a_time(media, tmp_path):
    # Given the same records written one at a time, each scored after its write, in one tenant
    one_by_one = factories.tenant("one-by-one", feature_flags={"er": True})
    for record in RECORDS:
        write_one(one_by_one, record)
        assert online.outbox_score().rows == 1
    # and imported in one file into another
    bulk = factories.tenant("in-bulk", feature_flags={"er": True})
    entities_import(tenant=bulk, path_or_stream=import_file(tmp_path), actor=None)
    assert pending(bulk) == len(RECORDS)

    # When the import's outbox rows are scored, in batches smaller than the file
    result = online.outbox_score(batch_size=4)

    # Then every row is consumed and both tenants hold the same pairs with the same scores
    assert result.rows == len(RECORDS) and pending(bulk) == 0
    expected = pairs(one_by_one)
    assert pairs(bulk) == expected
    found = {(a, b) for a, b, *_ in expected}
    assert {("P1", "P2"), ("P1", "P3"), ("P2", "P3"), ("P4", "P5"), ("O1", "O2")} <= found
    assert not any("P6" in pair or "A1" in pair for pair in found)
    assert {status for *_, status, _, _ in expected} == {"pending"}  # online scoring never merges by itself


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
def test_a_bulk_import_is_scored_online_by_a_worker_like_single_writes(media, tmp_path):
    one_by_one = services.tenant_create(slug="worker-singles", feature_flags={"er": True})
    bulk = services.tenant_create(slug="worker-bulk", feature_flags={"er": True})
    app.control.purge()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        # Given single writes, each scored by the worker once it commits
        for record in RECORDS:
            write_one(one_by_one, record)
            assert wait_until(lambda: pending(one_by_one) == 0)
        # When the same records are imported in one file
        entities_import(tenant=bulk, path_or_stream=import_file(tmp_path), actor=None)
        # Then the worker scores the import too, without anyone asking
        assert wait_until(lambda: pending(bulk) == 0)
    assert pairs(bulk) == pairs(one_by_one)
    assert len(pairs(bulk)) >= 5


# --------------------------------------------------------------------------- what is consumed without scoring


@pytest.mark.django_db
def test_rows_that_are_not_scored_are_consumed_all_the_same(media):
    # Given writes ER does not score: a tenant without the flag, another kind, a merged-away entity, a deleted one
    no_flag = factories.tenant("no-er")
    flagged = factories.tenant("er-on", feature_flags={"er": True})
    factories.entity(tenant=no_flag, name="Ada Lovelace", attributes=ADA)
    factories.entity(tenant=no_flag, name="Ada Lovelace", attributes=ADA)
    factories.entity(tenant=flagged, kind="phone", name="+44 20 7946 0000")
    factories.entity(tenant=flagged, kind="phone", name="+44 20 7946 0000")
    gone = factories.entity(tenant=flagged, name="Ada Lovelace", attributes=ADA)
    services.entity_delete(entity=gone)
    assert OutboxEvent.objects.filter(consumer="er").count() == 5

    # When the outbox is scored, Then every row is gone and no pair was recorded
    result = online.outbox_score()
    assert (result.rows, result.scored, result.failed) == (5, 0, 0)
    assert not OutboxEvent.objects.filter(consumer="er").exists()
    assert not CandidatePair.objects.exists()
    # and the graph's rows are the graph's: untouched
    assert OutboxEvent.objects.filter(consumer="graph").count() == 6


@pytest.mark.django_db
def test_one_failing_record_holds_up_only_its_own_rows(media, monkeypatch):
    # Given three people of whom scoring one fails every time
    tenant = factories.tenant("poison", feature_flags={"er": True})
    first = factories.entity(tenant=tenant, name="Ada Lovelace", attributes=ADA)
    bad = factories.entity(tenant=tenant, name="Charles Babbage", attributes=BABBAGE)
    second = factories.entity(tenant=tenant, name="Ada Lovelace", attributes={**ADA, "city": "London"})
    real = online._candidates

    def candidates(*, tenant, kind, members):
        if bad in members:
            raise RuntimeError("broke on this record")
        return real(tenant=tenant, kind=kind, members=members)

    monkeypatch.setattr(online, "_candidates", candidates)

    # When the outbox is scored
    result = online.outbox_score()

    # Then the others are scored and consumed; the failing one's row stays, with its error and attempt count
    assert CandidatePair.objects.filter(entity_a__in=[first, second], entity_b__in=[first, second]).count() == 1
    left = list(OutboxEvent.objects.filter(consumer="er").values_list("object_id", "attempts", "last_error"))
    assert [(object_id, attempts) for object_id, attempts, _ in left] == [(bad.pk, 1)]
    assert "broke on this record" in left[0][2]
    assert (result.rows, result.failed) == (2, 1)
    # and after MAX_ATTEMPTS failures the row is set aside: kept for an operator, no longer claimed
    for _ in range(online.MAX_ATTEMPTS - 1):
        online.outbox_score()
    assert OutboxEvent.objects.get(consumer="er").attempts == online.MAX_ATTEMPTS
    assert online.outbox_score().failed == 0


# --------------------------------------------------------------------------- watching the backlog


@pytest.mark.django_db
def test_metrics_show_the_er_backlog_and_beat_has_a_safety_net(client):
    from intelgraph.schedules import SCHEDULES

    # Given two entities written and not scored yet (no worker runs in this test)
    tenant = factories.tenant()
    for record in RECORDS[:2]:
        write_one(tenant, record)
    backlog = OutboxEvent.objects.filter(consumer="er").count()
    assert backlog >= 2
    # When /metrics is scraped, then it says how many rows wait for online ER
    text = client.get("/metrics").content.decode()
    line = next(x for x in text.splitlines() if x.startswith("ig_er_outbox_pending"))
    assert float(line.split()[-1]) == backlog
    assert "ig_er_outbox_oldest_seconds" in text
    # and a lost wake-up is caught by beat within a minute
    (net,) = [s for s in SCHEDULES if s.task == "er.score_outbox"]
    assert net.when.every <= 60 and net.when.period == "seconds"
    # once scored, the backlog is gone from the figure too
    online.outbox_score()
    text = client.get("/metrics").content.decode()
    line = next(x for x in text.splitlines() if x.startswith("ig_er_outbox_pending"))
    assert float(line.split()[-1]) == OutboxEvent.objects.filter(consumer="er").count() == 0
