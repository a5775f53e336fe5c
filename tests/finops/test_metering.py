"""Metering: counts in Redis on the request path, folded into PostgreSQL in batches, nothing lost or doubled even
when the process folding them is killed; Redis down sends counts to PostgreSQL directly."""

import datetime
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from apps.finops import metering as folding
from apps.finops.models import MeterFold, UsageDaily
from intelgraph import metering
from tests import factories

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _usage(tenant, feature="search", unit="request") -> Decimal:
    row = UsageDaily.objects.filter(tenant=tenant, feature=feature, unit=unit).first()
    return row.quantity if row else Decimal(0)


def test_counts_are_folded_into_daily_usage_once():
    # given two tenants' searches counted in Redis, and an LLM call of one model
    north, south = factories.tenant(), factories.tenant()
    for _ in range(7):
        metering.meter(tenant_id=north.pk, feature="search", unit="request", quantity=1)
    metering.meter(tenant_id=south.pk, feature="search", unit="request", quantity=3)
    metering.meter(tenant_id=north.pk, feature="llm", unit="input_token", quantity=1200, model="gpt-4o-mini")
    assert not UsageDaily.objects.exists()  # nothing written on the request path

    # when the fold runs (twice)
    first = folding.usage_fold()
    second = folding.usage_fold()

    # then each count is in PostgreSQL exactly once, per tenant, day, feature, unit and model
    assert (first.batches, first.fields, second.batches) == (1, 3, 0)
    assert _usage(north) == 7 and _usage(south) == 3
    llm = UsageDaily.objects.get(tenant=north, feature="llm")
    assert (llm.model, llm.unit, llm.quantity, llm.day) == ("gpt-4o-mini", "input_token", 1200, datetime.date.today())

    # and later counts add to the same rows
    metering.meter(tenant_id=north.pk, feature="search", unit="request", quantity=2)
    folding.usage_fold()
    assert _usage(north) == 9


def test_a_batch_already_folded_is_removed_without_being_added_again():
    # given a batch folded, whose deletion from Redis never happened (the folder died after its commit)
    tenant = factories.tenant()
    metering.meter(tenant_id=tenant.pk, feature="search", unit="request", quantity=5)
    client = metering._redis()
    client.rename(metering.LIVE_KEY, f"{metering.FOLD_PREFIX}left-behind")
    folding.usage_fold()
    assert _usage(tenant) == 5
    client.hset(
        f"{metering.FOLD_PREFIX}left-behind",
        metering.field_of(tenant_id=tenant.pk, day=datetime.date.today(), feature="search", unit="request"),
        "5",
    )

    # when the next fold finds it
    result = folding.usage_fold()

    # then it is deleted and counted once only
    assert (result.batches, result.skipped) == (0, 1)
    assert _usage(tenant) == 5
    assert not client.exists(f"{metering.FOLD_PREFIX}left-behind")


def _database_url(settings) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _waiting_on_the_fold_table(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%finops_meterfold%'"
            ).fetchone()
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery
def test_a_worker_killed_between_counting_and_folding_loses_nothing(settings, tmp_path):
    # given 40 searches counted in Redis
    tenant = factories.tenant()
    for _ in range(40):
        metering.meter(tenant_id=tenant.pk, feature="search", unit="request", quantity=1)
    db = settings.DATABASES["default"]
    dsn = f"host={db['HOST']} port={db['PORT']} dbname={db['NAME']} user={db['USER']} password={db['PASSWORD']}"
    env = {**os.environ, "DATABASE_URL": _database_url(settings), "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "intelgraph", "worker", "-P", "solo", "-Q", "finops-kill-test",
         "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with psycopg.connect(dsn, autocommit=False) as blocker:
            # and a real Celery worker folding them, held just after it took them from Redis (its insert of the
            # batch waits on a lock) ...
            blocker.execute("LOCK TABLE finops_meterfold IN EXCLUSIVE MODE")
            from apps.finops.tasks import fold

            fold.apply_async(queue="finops-kill-test")
            deadline = time.monotonic() + 90
            while not _waiting_on_the_fold_table(dsn):
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
                time.sleep(0.2)
            assert not metering._redis().exists(metering.LIVE_KEY)  # the counts left the live hash

            # when the worker is killed right there (kill -9)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            blocker.rollback()
    finally:
        if worker.poll() is None:
            worker.kill()
    # then nothing was folded, the batch is still in Redis, and the next fold adds all 40, once
    connection.close()
    assert _usage(tenant) == 0 and not MeterFold.objects.exists()
    assert list(metering._redis().scan_iter(f"{metering.FOLD_PREFIX}*"))
    folding.usage_fold()
    folding.usage_fold()
    assert _usage(tenant) == 40


def test_with_redis_down_counts_go_to_postgres_directly(settings, caplog):
    tenant = factories.tenant()
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    metering.meter(tenant_id=tenant.pk, feature="search", unit="request", quantity=1)
    metering.meter(tenant_id=tenant.pk, feature="search", unit="db_second", quantity=0.25)
    assert _usage(tenant) == 1
    assert _usage(tenant, unit="db_second") == Decimal("0.25")
    assert "Redis unavailable" in caplog.text


def test_bad_metering_calls_are_refused():
    with pytest.raises(ValueError, match="unknown feature"):
        metering.meter(tenant_id=1, feature="coffee", unit="request", quantity=1)
    metering.meter(tenant_id=None, feature="search", unit="request", quantity=1)  # no tenant: nothing counted
    assert not metering._redis().exists(metering.LIVE_KEY)
