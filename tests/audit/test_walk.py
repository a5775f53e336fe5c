"""The verification walk: the row form of an event's hash, and a long log walked in ranges on several processes
(each on its own connection in the verifier's snapshot) finding the same things as one walk."""

import pytest
from django.db import connection, transaction

from apps.audit import services as audit
from apps.audit import verification
from apps.audit.models import AuditEvent, AuditPosition
from apps.audit.rows import EVENT_SQL, hash_row
from apps.audit.sealing import seal_pending
from apps.audit.verification import verify_log
from tests import factories
from tests.audit.tampering import appended, as_attacker, position_of

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOADS = [
    {},
    {"n": 1, "note": 'é ✓ \u2028 "quoted" back\\slash'},
    {"z": [3, 1, {"b": None, "a": 1.5}], "a": {"y": True, "x": False}, "big": 2**62, "neg": -0.25},
    {"emoji": "🕵️", "nested": {"deeper": {"deepest": ["", "tab\tnew\nline"]}}},
]


def test_the_row_hash_is_the_services_hash_for_every_kind_of_content():
    tenant = factories.tenant()
    events = []
    for payload in PAYLOADS:
        with transaction.atomic():
            events.append(audit.record("test.event", tenant=tenant if payload else None, payload=payload))
    with connection.cursor() as cursor:
        seqs = [e.seq for e in events]
        sql = "SELECT " + EVENT_SQL + " FROM audit_auditevent e WHERE e.seq = ANY(%s) ORDER BY e.seq"  # noqa: S608
        cursor.execute(sql, [seqs])
        rows = cursor.fetchall()
    assert len(rows) == len(events)
    for row, event in zip(rows, AuditEvent.objects.filter(seq__in=seqs).order_by("seq"), strict=True):
        assert hash_row(row) == audit.event_hash(event) == event.hash


@pytest.fixture
def ranges(monkeypatch):
    """Small ranges, so a test-sized log is walked by worker processes as a large one is."""
    monkeypatch.setattr(verification, "RANGE_POSITIONS", 6)
    monkeypatch.setattr(verification, "PARALLEL_MIN", 12)


def _log(batches: int, per_batch: int) -> list:
    events = []
    for _ in range(batches):
        events += appended(per_batch)
        seal_pending()
    return events


def test_a_long_log_walked_in_ranges_verifies_like_one_walk(ranges):
    _log(10, 4)  # 40 positions, 10 checkpoints: ranges of two segments
    inline = verify_log(full=True, advance=False, jobs=1)
    parallel = verify_log(full=True, advance=False, jobs=2, signatures=True)
    assert inline.ok and parallel.ok, (inline.problem, parallel.problem)
    assert (parallel.checked, parallel.checkpoints) == (inline.checked, inline.checkpoints) == (40, 10)
    assert parallel.signatures == 40 and parallel.root == inline.root


def test_ranges_walked_in_parallel_report_the_first_problem_of_the_log(ranges):
    events = _log(10, 4)
    early, late = events[9], events[33]
    as_attacker(
        ("UPDATE audit_auditevent SET payload = '{\"n\": 7}' WHERE seq = %s", [late.seq]),
    )
    problem = verify_log(full=True, advance=False, jobs=2).problem
    assert (problem.position, problem.seq, problem.kind) == (position_of(late), late.seq, "changed")
    as_attacker(("DELETE FROM audit_auditevent WHERE seq = %s", [early.seq]))
    problem = verify_log(full=True, advance=False, jobs=2).problem
    assert (problem.position, problem.seq, problem.kind) == (position_of(early), early.seq, "missing")


def test_a_gap_between_ranges_is_a_missing_position_and_a_cut_tail_is_truncated(ranges):
    events = _log(10, 4)
    boundary = position_of(events[11])  # the last position of the third segment: the end of a range
    as_attacker(("DELETE FROM audit_auditposition WHERE position = %s", [boundary]))
    problem = verify_log(full=True, advance=False, jobs=2).problem
    assert problem.kind in ("missing", "rewritten") and problem.position <= boundary
    last = AuditPosition.objects.order_by("-position").first().position
    as_attacker(("DELETE FROM audit_auditposition WHERE position > %s", [last - 2]))
    assert verify_log(full=True, advance=False, jobs=1).problem.position <= boundary  # still the first problem


def test_a_tampered_tree_node_is_found_by_the_range_that_completes_it(ranges, settings):
    settings.AUDIT_SEALER_BATCH_MAX = 64
    _log(5, 60)  # 300 positions: one stored node of 256 leaves
    as_attacker(("UPDATE audit_audittreenode SET hash = %s WHERE level = 8 AND index = 0", [b"\x00" * 32]))
    problem = verify_log(full=True, advance=False, jobs=2).problem
    assert problem.kind == "bad-node" and problem.position == 1
