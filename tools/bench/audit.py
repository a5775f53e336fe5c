"""The audit benchmark (make bench-audit): appends under N concurrent writers, sealing lag, lock waits, verify speed.

Everything runs in a database of its own (``<database>_bench_audit``, made with Django's test-database machinery
and kept between runs), because audit events cannot be deleted: the development log is never touched.

- **Floor** (what PostgreSQL alone gives on this machine): the new design's two statements, prepared, on a bare
  psycopg connection, into ``bench_audit_floor`` (a copy of the event table's columns and indexes, no triggers),
  one event per transaction, with no Django, hashing or signing. The new design's appends/s over the floor's is the
  share of the database's own capacity the append leaves to it.
- **New design** (today's code): each writer process appends with ``apps.audit.services.record`` in its own short
  transactions while the real sealer (``manage.py audit_sealer``) runs as a process beside them.
- **Old design** (the reference): a faithful copy of the locked, hash-chained append that ``record`` was before
  issue 13 (``old_record``: a savepoint, the key lookup, ``pg_advisory_xact_lock`` held to the caller's commit, the
  chain head, the INSERT), writing to a scratch table of the old shape (``bench_audit_chain``), and the old chain
  walk (``old_verify``) over it.

Latency is the time of the append call inside the caller's transaction (the commit apart); lock waits are
sampled from ``pg_stat_activity`` every 20 ms.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from apps.audit import services as audit
from tools.bench.stats import percentile

ROOT = Path(__file__).resolve().parents[2]
OLD_LOCK_KEY = 0x1A_0D17  # the old chain's advisory lock, as it was
GENESIS = "0" * 64

SCRATCH_TABLE = """
CREATE TABLE IF NOT EXISTS bench_audit_chain (
  id bigserial PRIMARY KEY,
  seq bigint NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  tenant_id bigint NULL,
  actor_id bigint NULL,
  actor_label varchar(200) NOT NULL,
  event_type varchar(100) NOT NULL,
  target_type varchar(100) NOT NULL,
  target_id varchar(200) NOT NULL,
  payload jsonb NOT NULL,
  prev_hash varchar(64) NOT NULL,
  hash varchar(64) NOT NULL UNIQUE,
  signature varchar(128) NOT NULL,
  key_id varchar(16) NOT NULL
);
-- the indexes the old table had (Django's, for the same fields), so both designs maintain as many
CREATE INDEX IF NOT EXISTS bench_audit_chain_event_type ON bench_audit_chain (event_type);
CREATE INDEX IF NOT EXISTS bench_audit_chain_event_type_like ON bench_audit_chain (event_type varchar_pattern_ops);
CREATE INDEX IF NOT EXISTS bench_audit_chain_hash_like ON bench_audit_chain (hash varchar_pattern_ops);
CREATE INDEX IF NOT EXISTS bench_audit_chain_tenant_created ON bench_audit_chain (tenant_id, created_at DESC);
CREATE INDEX IF NOT EXISTS bench_audit_chain_target ON bench_audit_chain (target_type, target_id);
CREATE INDEX IF NOT EXISTS bench_audit_chain_actor ON bench_audit_chain (actor_id);
CREATE INDEX IF NOT EXISTS bench_audit_chain_tenant ON bench_audit_chain (tenant_id);
"""


FLOOR_TABLE = """
DROP TABLE IF EXISTS bench_audit_floor;
CREATE TABLE bench_audit_floor (LIKE audit_auditevent INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
"""
FLOOR_INSERT = (
    "INSERT INTO bench_audit_floor (id, seq, version, xid, created_at, tenant_id, actor_id, actor_label, event_type, "
    "target_type, target_id, payload, confirms, prev_hash, hash, signature, key_id) VALUES (%s, %s, 2, %s, now(), "
    "NULL, NULL, 'bench', 'search.query', '', '', %s::jsonb, '{}', '', %s, %s, 'bench')"
)

# --------------------------------------------------------------------------- the database of the benchmark


def database_use(name_suffix: str = "_bench_audit") -> str:
    """Switch Django's default connection to the benchmark's own database (created or migrated as needed)."""
    base = settings.DATABASES["default"]["NAME"]
    name = f"{base}{name_suffix}"
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True, serialize=False)
    with connection.cursor() as cursor:
        cursor.execute(SCRATCH_TABLE)
        cursor.execute(FLOOR_TABLE)  # fresh each run: the event table's indexes as they are now
    return name


def database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


# --------------------------------------------------------------------------- the old design, faithfully


def _old_canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def old_record(event_type: str, *, payload: dict) -> int:
    """``apps.audit.services.record`` as it was before issue 13, writing to the scratch table."""
    key_id, public_hex = audit._signing_key_id()
    with transaction.atomic():  # as the old record: a savepoint inside the caller's transaction
        from apps.audit.models import AuditSigningKey

        AuditSigningKey.objects.get_or_create(key_id=key_id, defaults={"public_key": public_hex})
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [OLD_LOCK_KEY])
            cursor.execute("SELECT seq, hash FROM bench_audit_chain ORDER BY seq DESC LIMIT 1")
            head = cursor.fetchone()
            seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
            created = timezone.now()
            payload = json.loads(json.dumps(payload, sort_keys=True))
            body = {
                "seq": seq,
                "created_at": created.astimezone(UTC).isoformat(timespec="microseconds"),
                "tenant_id": None,
                "actor_id": None,
                "actor_label": "bench",
                "event_type": event_type,
                "target_type": "",
                "target_id": "",
                "payload": payload,
                "prev_hash": prev_hash,
                "key_id": key_id,
            }
            digest = hashlib.sha256(_old_canonical(body)).hexdigest()
            signature = audit.signing_key().sign(digest.encode()).hex()
            cursor.execute(
                "INSERT INTO bench_audit_chain (seq, created_at, tenant_id, actor_id, actor_label, event_type, "
                "target_type, target_id, payload, prev_hash, hash, signature, key_id) "
                "VALUES (%s, %s, NULL, NULL, 'bench', %s, '', '', %s, %s, %s, %s, %s) RETURNING id",
                [seq, created, event_type, json.dumps(payload), prev_hash, digest, signature, key_id],
            )
    return seq


def old_verify(progress=None) -> tuple[int, float]:
    """The old ``verify_chain`` walk over the scratch table (links, hashes, signatures); (events, seconds)."""
    keys = audit.trusted_public_keys()
    started = time.perf_counter()
    expected, prev_hash, checked = 1, GENESIS, 0
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT seq, created_at, tenant_id, actor_id, actor_label, event_type, target_type, target_id, payload, "
            "prev_hash, hash, signature, key_id FROM bench_audit_chain ORDER BY seq"
        )
        while rows := cursor.fetchmany(5000):
            for row in rows:
                (seq, created, tenant_id, actor_id, label, kind, ttype, tid, payload, prev, digest, sig, key_id) = row
                body = {
                    "seq": seq,
                    "created_at": created.astimezone(UTC).isoformat(timespec="microseconds"),
                    "tenant_id": tenant_id,
                    "actor_id": actor_id,
                    "actor_label": label,
                    "event_type": kind,
                    "target_type": ttype,
                    "target_id": tid,
                    "payload": json.loads(payload),
                    "prev_hash": prev,
                    "key_id": key_id,
                }
                if seq != expected or prev != prev_hash:
                    raise RuntimeError(f"old chain broken at #{seq}")
                if hashlib.sha256(_old_canonical(body)).hexdigest() != digest:
                    raise RuntimeError(f"old chain: #{seq} changed")
                keys[key_id].verify(bytes.fromhex(sig), digest.encode())
                expected, prev_hash, checked = seq + 1, digest, checked + 1
            if progress:
                progress(len(rows))
    return checked, time.perf_counter() - started


# --------------------------------------------------------------------------- writers


@dataclass
class WriterResult:
    appends: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, the append inside the transaction
    commits: list[float] = field(default_factory=list)  # seconds, the commit after it
    errors: int = 0


def _floor_writer(start_at: float, stop_at: float, queue) -> None:
    """The floor: the append's two statements, prepared, on a bare psycopg connection, one event per transaction."""
    import psycopg

    result = WriterResult()
    payload = json.dumps({"q_hash": "ab" * 32, "results": 20, "filters": {"kind": "person"}})
    with psycopg.connect(database_url()) as raw:
        cursor = raw.cursor()
        while time.time() < start_at:
            time.sleep(0.001)
        while time.time() < stop_at:
            began = time.perf_counter()
            cursor.execute(audit._NEXT, prepare=True)
            seq, xid = cursor.fetchone()
            digest = f"{seq:064x}"
            cursor.execute(FLOOR_INSERT, [seq, seq, xid, payload, digest, digest], prepare=True)
            appended = time.perf_counter()
            raw.commit()
            result.latencies.append(appended - began)
            result.commits.append(time.perf_counter() - appended)
            result.appends += 1
    queue.put(result)


def _writer(design: str, start_at: float, stop_at: float, queue) -> None:
    connections.close_all()  # a forked writer opens its own connection
    if design == "floor":
        _floor_writer(start_at, stop_at, queue)
        return
    settings.DEBUG = False  # as in production: with DEBUG on, Django keeps a log of every statement
    result = WriterResult()
    append = audit.record if design == "new" else old_record
    payload = {"q_hash": "ab" * 32, "results": 20, "filters": {"kind": "person"}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < stop_at:
        try:
            with transaction.atomic():  # the caller's short transaction
                began = time.perf_counter()
                append("search.query", payload=payload)
                appended = time.perf_counter()
            result.latencies.append(appended - began)
            result.commits.append(time.perf_counter() - appended)
            result.appends += 1
        except Exception:
            result.errors += 1
            connections.close_all()
    queue.put(result)
    connections.close_all()


class LockSampler:
    """Samples ``pg_stat_activity`` for backends of this database waiting on a heavyweight lock, and the age of the
    oldest writing transaction elsewhere in the cluster (it holds the sealer's horizon back)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.samples, self.advisory, self.any_lock = interval, 0, [], []
        self.elsewhere: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with connection.cursor() as cursor:
                while not self._stop.is_set():
                    cursor.execute(
                        "SELECT count(*) FILTER (WHERE wait_event = 'advisory'), count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                    advisory, any_lock = cursor.fetchone()
                    cursor.execute(
                        "SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0) FROM pg_stat_activity "
                        "WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database()"
                    )
                    self.elsewhere.append(float(cursor.fetchone()[0]))
                    self.samples += 1
                    self.advisory.append(advisory)
                    self.any_lock.append(any_lock)
                    self._stop.wait(self.interval)
        finally:
            connections.close_all()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        return False

    def summary(self) -> dict:
        waited = [n for n in self.any_lock if n]
        return {
            "samples": self.samples,
            "samples_waiting": len(waited),
            "max_waiting": max(self.any_lock, default=0),
            "mean_waiting": sum(self.any_lock) / self.samples if self.samples else 0.0,
            "max_advisory": max(self.advisory, default=0),
            "elsewhere_max_s": max(self.elsewhere, default=0.0),
            "elsewhere_p95_s": percentile(self.elsewhere, 0.95) if self.elsewhere else 0.0,
        }


def appends_run(*, design: str, writers: int, duration: float) -> dict:
    """``writers`` processes appending for ``duration`` seconds; the figures of the run."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    connections.close_all()
    start_at = time.time() + 1.5 + writers * 0.05
    stop_at = start_at + duration
    processes = [context.Process(target=_writer, args=(design, start_at, stop_at, queue)) for _ in range(writers)]
    for process in processes:
        process.start()
    while time.time() < start_at:
        time.sleep(0.01)
    load_before = os.getloadavg()
    with LockSampler() as sampler:
        results = [queue.get(timeout=duration + 120) for _ in processes]
    for process in processes:
        process.join(30)
    latencies = [x for r in results for x in r.latencies]
    appends = sum(r.appends for r in results)
    return {
        "design": design,
        "writers": writers,
        "duration": duration,
        "appends": appends,
        "errors": sum(r.errors for r in results),
        "per_second": appends / duration,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "commit_p95_ms": percentile([x for r in results for x in r.commits], 0.95) * 1000,
        "locks": sampler.summary(),
        "load": (load_before, os.getloadavg()),
    }


# --------------------------------------------------------------------------- the sealer process


class SealerProcess:
    """``manage.py audit_sealer`` against the benchmark's database, as ``make run`` starts it."""

    def __init__(self, *, log: Path, interval_ms: int) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "AUDIT_CHECKPOINT_FILE": str(settings.AUDIT_CHECKPOINT_FILE),
            "AUDIT_VERIFIED_FILE": str(settings.AUDIT_VERIFIED_FILE),
            "AUDIT_LOG_ORIGIN": settings.AUDIT_LOG_ORIGIN,
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "audit_sealer", "--interval-ms", str(interval_ms)],
            env=env,
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
        )

    def wait_sealing(self, timeout: float = 120) -> None:
        """Until the sealer says it holds the lock and nothing committed waits to be sealed."""
        deadline = time.monotonic() + timeout
        while "sealing (" not in self.log.read_text().rsplit("sealer stopped", 1)[-1] or unsealed():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the sealer did not start sealing; see {self.log}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """CPU time the sealer process has used so far (user + system), from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def unsealed() -> int:
    from apps.audit.selectors import unsealed_window

    return unsealed_window()["unsealed"]


def sealing_lag(first_seq: int) -> dict:
    """Per event appended since ``first_seq``: the time from its append to the checkpoint that sealed it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.95) WITHIN GROUP (ORDER BY lag),"
            " max(lag), count(*) FROM (SELECT extract(epoch FROM c.created_at - e.created_at) AS lag "
            "FROM audit_auditevent e JOIN audit_auditposition p ON p.event_seq = e.seq "
            "JOIN LATERAL (SELECT created_at FROM audit_auditcheckpoint WHERE size >= p.position ORDER BY size LIMIT 1) c "
            "ON true WHERE e.seq >= %s) lags",
            [first_seq],
        )
        p50, p95, worst, count = cursor.fetchone()
    return {"p50_s": p50 or 0.0, "p95_s": p95 or 0.0, "max_s": worst or 0.0, "events": count}


# --------------------------------------------------------------------------- seeding a million events


def _signed_new(rows: list[tuple]) -> list[tuple]:
    key = audit.signing_key()
    return [(*row[:-1], key.sign(row[-1].encode()).hex()) for row in rows]


def seed_new(total: int, *, say) -> int:
    """Append signed events (the new design's rows) until the log holds ``total``; 10,000 per transaction, so the
    sealer's batches are cut at transaction boundaries as after a long outage. Returns how many were added."""
    from apps.audit.models import AuditEvent

    have = AuditEvent.objects.count()
    missing = total - have
    if missing <= 0:
        return 0
    say(f"seeding {missing:,} audit events (signed, 10,000 per transaction) …")
    key_id, public_hex = audit._signing_key_id()
    payload = {"q_hash": "cd" * 32, "results": 20, "filters": {"kind": "person"}}
    context = multiprocessing.get_context("fork")
    added, started = 0, time.perf_counter()
    with context.Pool(processes=os.cpu_count() or 2) as pool:
        while added < missing:
            chunk = min(10_000, missing - added)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_current_xact_id()::text::bigint, nextval(pg_get_serial_sequence('audit_auditevent', 'id')) "
                        "FROM generate_series(1, %s)",
                        [chunk],
                    )
                    numbers = cursor.fetchall()
                    cursor.execute(
                        "INSERT INTO audit_auditsigningkey (key_id, public_key, created_at) VALUES (%s, %s, now()) "
                        "ON CONFLICT (key_id) DO NOTHING",
                        [key_id, public_hex],
                    )
                now = timezone.now()
                rows = []
                for xid, seq in numbers:
                    event = AuditEvent(
                        id=seq, seq=seq, version=2, xid=xid, created_at=now, actor_label="bench",
                        event_type="bench.seeded", target_type="", target_id="", payload=payload, confirms=[],
                        key_id=key_id,
                    )  # fmt: skip
                    event.hash = audit.event_hash(event)
                    rows.append(
                        (
                            seq,
                            seq,
                            2,
                            xid,
                            now,
                            "bench",
                            "bench.seeded",
                            json.dumps(payload),
                            event.hash,
                            key_id,
                            event.hash,
                        )
                    )
                parts = [rows[i : i + 1000] for i in range(0, len(rows), 1000)]
                signed = [row for part in pool.map(_signed_new, parts) for row in part]
                with (
                    connection.cursor() as cursor,
                    cursor.cursor.copy(
                        "COPY audit_auditevent (id, seq, version, xid, created_at, actor_label, event_type, payload, hash, "
                        "key_id, signature, target_type, target_id, confirms, prev_hash) FROM STDIN"
                    ) as copy,
                ):
                    for row in signed:
                        copy.write_row((*row, "", "", "{}", ""))
            added += chunk
            if added % 100_000 == 0 or added == missing:
                say(f"  {added:,} of {missing:,} ({added / (time.perf_counter() - started):,.0f}/s)")
    return added


def seed_old(total: int, *, say) -> int:
    """Fill the scratch chain up to ``total`` events with the old design's rows (chained, signed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(max(seq), 0) FROM bench_audit_chain")
        have, head_seq = cursor.fetchone()
        cursor.execute("SELECT hash FROM bench_audit_chain WHERE seq = %s", [head_seq])
        row = cursor.fetchone()
    prev_hash = row[0] if row else GENESIS
    missing = total - have
    if missing <= 0:
        return 0
    say(f"seeding {missing:,} events of the old chain (scratch table) …")
    key_id = audit._signing_key_id()[0]
    payload = {"q_hash": "cd" * 32, "results": 20, "filters": {"kind": "person"}}
    context = multiprocessing.get_context("fork")
    added, seq = 0, head_seq
    with context.Pool(processes=os.cpu_count() or 2) as pool:
        while added < missing:
            chunk = min(10_000, missing - added)
            now = timezone.now()
            rows = []
            for _ in range(chunk):
                seq += 1
                body = {
                    "seq": seq, "created_at": now.astimezone(UTC).isoformat(timespec="microseconds"),
                    "tenant_id": None, "actor_id": None, "actor_label": "bench", "event_type": "bench.seeded",
                    "target_type": "", "target_id": "", "payload": payload, "prev_hash": prev_hash, "key_id": key_id,
                }  # fmt: skip
                digest = hashlib.sha256(_old_canonical(body)).hexdigest()
                rows.append((seq, now, json.dumps(payload), prev_hash, digest, key_id, digest))
                prev_hash = digest
            parts = [rows[i : i + 1000] for i in range(0, len(rows), 1000)]
            signed = [row for part in pool.map(_signed_new, parts) for row in part]
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                cursor.cursor.copy(
                    "COPY bench_audit_chain (seq, created_at, payload, prev_hash, hash, key_id, signature, actor_label, "
                    "event_type, target_type, target_id) FROM STDIN"
                ) as copy,
            ):
                for row in signed:
                    copy.write_row((*row, "bench", "bench.seeded", "", ""))
            added += chunk
            if added % 100_000 == 0 or added == missing:
                say(f"  {added:,} of {missing:,}")
    return added
