"""The sealer: commit order without a lock, one sealer at a time, and a sealer killed mid-batch."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections, transaction

from apps.audit import services as audit
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition
from apps.audit.sealing import Sealer, seal_pending
from apps.audit.selectors import unsealed_window
from apps.audit.tasks import check_sealing
from apps.audit.verification import verify_log
from tests.audit.tampering import appended

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _in_thread(work):
    """Run ``work()`` on another thread, so on another database connection; returns (thread, result box)."""
    box = {}

    def run():
        try:
            box["value"] = work()
        except BaseException as exc:
            box["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def test_two_transactions_committing_out_of_order_are_sealed_once_each_in_number_order():
    # Given two writers: T2 starts writing first (its transaction id is the lower), then T1 appends (the lower
    # number), then T2 appends; T1 commits while T2 is still open
    t2_started, t1_appended, t2_appended, t1_done, t2_may_commit = (threading.Event() for _ in range(5))

    def t2():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()::text::bigint")
                xid = cursor.fetchone()[0]
            t2_started.set()
            t1_appended.wait(10)
            event = audit.record("test.t2")
            t2_appended.set()
            t2_may_commit.wait(30)
        return event, xid

    def t1():
        t2_started.wait(10)
        with transaction.atomic():
            event = audit.record("test.t1")
            t1_appended.set()
            t2_appended.wait(10)
        t1_done.set()
        return event

    thread2, box2 = _in_thread(t2)
    thread1, box1 = _in_thread(t1)
    thread1.join(30)
    first = box1["value"]
    assert t1_done.is_set() and AuditEvent.objects.filter(seq=first.seq).exists()  # T1 committed
    # When the sealer runs while T2 is open, T1's event waits: T2 is older, and could still commit an event
    # that would belong before it (its transaction id is lower)
    sealer = Sealer()
    while (result := sealer.seal()) is not None:
        pass
    assert not AuditPosition.objects.filter(event_seq=first.seq).exists()
    assert unsealed_window()["unsealed"] == 1
    # Then T2 commits, and the next batch seals both, in number order, each once
    t2_may_commit.set()
    thread2.join(30)
    second, t2_xid = box2["value"]
    assert second.xid == t2_xid < first.xid and first.seq < second.seq
    result = sealer.seal()
    assert result is not None and result.events == 2
    assert list(AuditPosition.objects.order_by("position").values_list("event_seq", flat=True)) == [
        first.seq,
        second.seq,
    ]
    assert result.checkpoint.horizon > first.xid
    assert verify_log(full=True).ok


def test_concurrent_writers_and_a_running_sealer_lose_nothing_and_seal_nothing_twice():
    stop, counts = threading.Event(), []

    def writer(n):
        def work():
            for i in range(n):
                with transaction.atomic():
                    audit.record("test.concurrent", payload={"i": i})
            return n

        return work

    def sealing():
        sealer, batches = Sealer(batch_max=25), 0
        while not stop.is_set():
            if sealer.seal() is not None:
                batches += 1
            time.sleep(0.01)
        return batches

    sealer_thread, sealer_box = _in_thread(sealing)
    writers = [_in_thread(writer(40)) for _ in range(6)]
    for thread, box in writers:
        thread.join(120)
        counts.append(box["value"])
    stop.set()
    sealer_thread.join(60)
    assert "error" not in sealer_box, sealer_box.get("error")
    seal_pending()
    total = AuditEvent.objects.filter(event_type="test.concurrent").count()
    assert total == sum(counts) == 240
    positions = list(AuditPosition.objects.order_by("position").values_list("position", "event_seq"))
    assert [p for p, _ in positions] == list(range(1, len(positions) + 1))
    assert len({seq for _, seq in positions}) == len(positions) == AuditEvent.objects.count()
    assert sealer_box["value"] > 1 and AuditCheckpoint.objects.count() > 2
    assert verify_log(full=True).ok


# --------------------------------------------------------------------------- the sealer as a real process


def _database_url(settings) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _start_sealer(settings, tmp_path, name):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(settings),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "AUDIT_CHECKPOINT_FILE": str(settings.AUDIT_CHECKPOINT_FILE),
        "AUDIT_VERIFIED_FILE": str(settings.AUDIT_VERIFIED_FILE),
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / f"{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "audit_sealer", "--interval-ms", "100"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, tmp_path / f"{name}.log"


def _wait(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _sealed() -> int:
    return AuditPosition.objects.count()


def test_a_sealer_killed_between_sealing_and_checkpointing_loses_nothing_and_resumes(settings, tmp_path):
    db = settings.DATABASES["default"]
    dsn = f"host={db['HOST']} port={db['PORT']} dbname={db['NAME']} user={db['USER']} password={db['PASSWORD']}"
    first, first_log = _start_sealer(settings, tmp_path, "first")
    standby = None
    try:
        # Given a running sealer that has sealed five events (and its own audit.sealer_started)
        appended(5)
        _wait(lambda: _sealed() == 6, "the first five events sealed")
        # and a second sealer started beside it, which waits: one sealer at a time
        standby, standby_log = _start_sealer(settings, tmp_path, "standby")
        _wait(lambda: "another sealer holds the lock" in standby_log.read_text(), "the standby to wait")
        # When the next batch's positions are written but its checkpoint insert is held up ...
        with psycopg.connect(dsn, autocommit=False) as blocker:
            blocker.execute("LOCK TABLE audit_auditcheckpoint IN EXCLUSIVE MODE")
            appended(3)  # appends go on meanwhile: they never touch the checkpoint table or wait for the sealer
            waiting = _wait(lambda: _backend_waiting_to_checkpoint(), "the sealer to wait on its checkpoint insert")
            # ... and the sealer is killed right there (kill -9), its batch open
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            blocker.rollback()
        _wait(lambda: not _backend_alive(waiting), "the killed sealer's backend to end")
        # Then nothing of the killed batch is kept, nothing is lost, and appends still work with no sealer
        appended(2)
        assert AuditCheckpoint.objects.order_by("-size").first().size == 6
        assert AuditEvent.objects.exclude(event_type__startswith="audit.sealer_").count() == 10
        # The standby takes the lock over and resumes exactly at the last checkpoint: each event sealed once
        # (the standby's audit.sealer_started is the twelfth event)
        _wait(lambda: _sealed() == 12, "the standby to seal the rest", timeout=90)
        positions = list(AuditPosition.objects.order_by("position").values_list("position", "event_seq"))
        assert [p for p, _ in positions] == list(range(1, 13))
        assert sorted(seq for _, seq in positions) == sorted(AuditEvent.objects.values_list("seq", flat=True))
        assert verify_log(full=True).ok
    finally:
        for process in (first, standby):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    said = standby_log.read_text()
    assert "sealer stopped" in said and "..12 in " in said  # it sealed up to position 12 (and said so)
    assert "Traceback" not in first_log.read_text()


def _backend_waiting_to_checkpoint():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO \"audit_auditcheckpoint\"%%'"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _backend_alive(pid) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def test_while_no_sealer_runs_the_window_grows_and_an_alert_fires(settings):
    settings.AUDIT_UNSEALED_ALERT_SECONDS = 1
    settings.ALERT_EMAILS = ["oncall@example.org"]
    seal_pending()
    assert check_sealing()["alerted"] is False
    appended(2)
    time.sleep(1.3)
    window = check_sealing()
    assert window["alerted"] is True and window["unsealed"] == 2 and window["oldest_seconds"] > 1
    assert "no sealer holds the sealer lock" in window["sealer"]
    seal_pending()
    assert check_sealing() == {**check_sealing(), "unsealed": 0, "oldest_seconds": 0.0, "alerted": False}


def test_readyz_and_metrics_show_the_unsealed_window(client, settings):
    appended(1)
    body = client.get("/readyz").json()
    sealing = body["checks"]["audit_sealing"]
    assert sealing["ok"] and sealing["unsealed"] == 1
    text = client.get("/metrics").content.decode()
    assert "ig_audit_unsealed_seconds" in text and "ig_audit_checkpoint_size" in text
    settings.AUDIT_UNSEALED_ALERT_SECONDS = 0
    time.sleep(0.05)
    body = client.get("/readyz").json()
    assert body["status"] == "degraded" and not body["checks"]["audit_sealing"]["ok"]
    assert "unsealed" in body["checks"]["audit_sealing"]["error"]
