"""Retention classes, legal holds and the purge of whole sealed segments (issue 13, item 4).

The purge is asked "as of" a later time (its fake clock): events recorded now are past 365 days' retention at
now + 400 days, and past 1,825 days' at now + 1,900 days. Every test that purges checks that audit_verify
still proves the log afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import InternalError, connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from apps.audit import retention
from apps.audit import services as audit
from apps.audit.errors import AuditRetentionError
from apps.audit.models import AuditCheckpoint, AuditEvent, AuditPosition, AuditTombstone
from apps.audit.proofs import segment_export
from apps.audit.sealing import seal_pending
from apps.audit.verification import verify_log
from apps.compliance import services as compliance
from apps.core.choices import Role
from tests import factories
from tests.audit.tampering import as_attacker

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(days=400)  # past standard-365d, within long-1825d
MUCH_LATER = timedelta(days=1900)  # past both
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit_verify_proof.py"


def segment(n: int, *, tenant=None, kind: str = "search.query", **kwargs) -> list[AuditEvent]:
    """``n`` events, sealed as a segment of their own (a checkpoint before and after)."""
    seal_pending()  # what came before (the fixtures' own events) ends in a checkpoint first
    events = [audit.record(kind, tenant=tenant, payload={"n": i}, **kwargs) for i in range(n)]
    seal_pending()
    return events


def exists(events) -> list[bool]:
    present = set(AuditEvent.objects.filter(seq__in=[e.seq for e in events]).values_list("seq", flat=True))
    return [e.seq in present for e in events]


def verified(*, full: bool = True):
    seal_pending()
    report = verify_log(full=full, advance=False)
    assert report.ok, report.problem
    return report


@pytest.fixture
def superuser(db):
    return factories._superuser()


def test_nothing_is_purged_before_its_retention_ends(tenant_a):
    events = segment(3, tenant=tenant_a)
    report = retention.purge(now=timezone.now() + timedelta(days=300))
    assert report.deleted == 0 and not report.tombstones
    assert all(exists(events))


def test_a_purge_removes_whole_segments_past_retention_and_the_log_still_verifies(tenant_a):
    old = segment(4, tenant=tenant_a)
    kept = segment(2, tenant=tenant_a, kind="er.pair_rejected")  # long-1825d
    positions = AuditPosition.objects.count()

    report = retention.purge(now=timezone.now() + LATER)

    assert report.deleted == 4
    assert exists(old) == [False] * 4 and all(exists(kept))
    assert AuditPosition.objects.count() == positions  # the leaves stay: every proof still works
    (tombstone,) = AuditTombstone.objects.all()
    assert tombstone.count == 4 and audit.tombstone_problem(tombstone) is None
    assert AuditEvent.objects.filter(event_type="audit.purged").count() == 1
    assert verified(full=True).purged == 4
    assert verified(full=False).ok
    # and later the long ones go too, in a tombstone of their own
    retention.purge(now=timezone.now() + MUCH_LATER)
    assert not any(exists(kept))
    verified(full=True)


def test_a_segment_with_one_event_still_within_retention_is_kept_whole(tenant_a):
    seal_pending()
    mixed = [audit.record("search.query", tenant=tenant_a), audit.record("er.merged", tenant=tenant_a)]
    seal_pending()
    report = retention.purge(now=timezone.now() + LATER)
    assert report.deleted == 0 and report.plan.kept >= 1
    assert all(exists(mixed))


def test_held_events_survive_every_purge_until_the_hold_is_lifted(tenant_a, tenant_b, superuser):
    held = segment(3, tenant=tenant_a)
    free = segment(3, tenant=tenant_b)
    hold = compliance.hold_place(actor=superuser, tenant=tenant_a, reason="litigation 2026-44")

    for _ in range(2):  # a second purge keeps them too
        report = retention.purge(now=timezone.now() + MUCH_LATER)
        assert all(exists(held)) and not any(exists(free))
        assert report.plan.held and all(s.holds == [hold.pk] for s in report.plan.held)
    verified(full=True)

    compliance.hold_lift(hold=hold, actor=superuser, reason="matter closed")
    retention.purge(now=timezone.now() + MUCH_LATER)
    assert not any(exists(held))
    verified(full=True)


def test_a_hold_by_target_and_time_range_keeps_only_what_it_names(tenant_a, superuser):
    entity = factories.entity(tenant=tenant_a)
    about = segment(1, tenant=tenant_a, target=entity)
    other = segment(1, tenant=tenant_a)
    compliance.hold_place(
        actor=superuser,
        tenant=tenant_a,
        target_type="core.entity",
        target_id=str(entity.pk),
        events_from=timezone.now() - timedelta(hours=1),
        events_until=timezone.now() + timedelta(hours=1),
        reason="subject access request",
    )
    retention.purge(now=timezone.now() + LATER)
    assert exists(about) == [True] and exists(other) == [False]


def test_a_hold_past_its_end_date_keeps_nothing(tenant_a, superuser):
    events = segment(2, tenant=tenant_a)
    compliance.hold_place(
        actor=superuser, tenant=tenant_a, reason="audit fieldwork", until=timezone.now() + timedelta(days=30)
    )
    retention.purge(now=timezone.now() + LATER)  # the clock is past the hold's end
    assert not any(exists(events))


def test_a_longer_override_keeps_a_tenants_events_and_a_shorter_one_is_refused(tenant_a, tenant_b, superuser):
    compliance.retention_override_set(
        actor=superuser, tenant=tenant_a, event_type="search.query", retention="long-1825d", reason="regulator"
    )
    kept = segment(2, tenant=tenant_a)
    gone = segment(2, tenant=tenant_b)
    retention.purge(now=timezone.now() + LATER)
    assert all(exists(kept)) and not any(exists(gone))
    with pytest.raises(AuditRetentionError, match="only lengthen"):
        compliance.retention_override_set(
            actor=superuser, tenant=tenant_a, event_type="er.merged", retention="standard-365d", reason="cost"
        )
    with pytest.raises(AuditRetentionError, match="only lengthens"):
        compliance.retention_override_set(
            actor=superuser, tenant=tenant_a, event_type="search.query", retention="standard-365d", reason="cost"
        )


def test_a_dry_run_deletes_nothing(tenant_a):
    events = segment(3, tenant=tenant_a)
    report = retention.purge(now=timezone.now() + LATER, dry_run=True)
    assert report.plan.events == 3 and report.deleted == 0
    assert all(exists(events)) and not AuditTombstone.objects.exists()


def test_asking_to_purge_a_held_segment_is_refused_and_deletes_nothing(tenant_a, tenant_b, superuser):
    held = segment(2, tenant=tenant_a)
    held_size = AuditCheckpoint.objects.order_by("-size").first().size
    free = segment(2, tenant=tenant_b)
    free_size = AuditCheckpoint.objects.order_by("-size").first().size
    hold = compliance.hold_place(actor=superuser, tenant=tenant_a, reason="investigation 9")
    with pytest.raises(AuditRetentionError, match=f"legal hold #{hold.pk}"):
        retention.purge(now=timezone.now() + LATER, segments=[free_size, held_size])
    assert all(exists(held)) and all(exists(free))
    assert AuditEvent.objects.filter(event_type="audit.purge_refused").count() == 1
    # the command says the same, as a command-line error
    with pytest.raises(CommandError, match="purge refused, nothing deleted"):
        call_command("audit_purge", "--segment", str(held_size), "--as-of", (timezone.now() + LATER).isoformat())
    with pytest.raises(CommandError, match="not an ISO date"):
        call_command("audit_purge", "--as-of", "next tuesday")


def test_the_command_dry_run_lists_what_would_go_and_what_is_held(tenant_a, tenant_b, superuser, capsys):
    segment(2, tenant=tenant_a)
    segment(3, tenant=tenant_b)
    compliance.hold_place(actor=superuser, tenant=tenant_a, reason="investigation 9")
    call_command("audit_purge", "--dry-run", "--as-of", (timezone.now() + LATER).isoformat())
    out = capsys.readouterr().out
    assert "would purge 1 segment(s), 3 event(s)" in out and "held positions" in out
    assert AuditEvent.objects.filter(tenant=tenant_b, event_type="search.query").count() == 3


def test_an_event_cannot_be_deleted_outside_the_purge(tenant_a):
    (event,) = segment(1, tenant=tenant_a)
    with pytest.raises((InternalError, DatabaseError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq = %s", [event.seq])
    assert exists([event]) == [True]


def test_a_tombstone_cannot_be_changed(purged):
    with pytest.raises((InternalError, DatabaseError)), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_audittombstone SET count = 0")
    assert verified(full=True).purged == 3


# --------------------------------------------------------------------------- tampering with what a purge left


@pytest.fixture
def purged(tenant_a):
    segment(3, tenant=tenant_a)
    kept = segment(2, tenant=tenant_a, kind="er.merged")
    retention.purge(now=timezone.now() + LATER)
    (tombstone,) = AuditTombstone.objects.all()
    return tombstone, kept


def _problem():
    report = verify_log(full=True, advance=False)
    assert not report.ok
    return report.problem


def test_an_altered_tombstone_is_found(purged):
    tombstone, _ = purged
    as_attacker(("UPDATE audit_audittombstone SET count = count + 5 WHERE id = %s", [tombstone.pk]))
    problem = _problem()
    assert problem.kind == "bad-tombstone" and problem.position == tombstone.first


def test_a_tombstone_stretched_over_kept_events_is_found(purged):
    tombstone, _ = purged
    last = AuditCheckpoint.objects.order_by("-size").first().size
    as_attacker(("UPDATE audit_audittombstone SET last = %s WHERE id = %s", [last, tombstone.pk]))
    assert _problem().kind == "bad-tombstone"


def test_a_changed_leaf_in_a_purged_range_is_found(purged):
    tombstone, _ = purged
    as_attacker(("UPDATE audit_auditposition SET leaf_hash = %s WHERE position = %s", [b"\x00" * 32, tombstone.first]))
    problem = _problem()
    assert problem.kind in ("bad-tombstone", "rewritten") and problem.position == tombstone.first


def test_deleting_a_tombstone_shows_the_purged_events_as_missing(purged):
    tombstone, _ = purged
    as_attacker(("DELETE FROM audit_audittombstone WHERE id = %s", [tombstone.pk]))
    problem = _problem()
    assert problem.kind == "missing" and problem.position == tombstone.first


def test_a_forged_tombstone_over_deleted_events_is_found(tenant_a):
    events = segment(3, tenant=tenant_a)
    first = AuditPosition.objects.get(event_seq=events[0].seq).position
    last = AuditPosition.objects.get(event_seq=events[-1].seq).position
    now = timezone.now()
    as_attacker(
        ("DELETE FROM audit_auditevent WHERE seq >= %s AND seq <= %s", [events[0].seq, events[-1].seq]),
        (
            "INSERT INTO audit_audittombstone (first, last, count, leaves_root, events_from, events_until, purged_at,"
            " origin, key_id, signature) VALUES (%s, %s, 3, %s, %s, %s, %s, 'x', 'deadbeefdeadbeef', %s)",
            [first, last, "0" * 64, now, now, now, "00" * 64],
        ),
    )
    problem = _problem()
    assert problem.kind == "bad-tombstone"


# --------------------------------------------------------------------------- offline, with the standalone verifier


def _verify_offline(tmp_path, lines: list[str]) -> subprocess.CompletedProcess:
    path = tmp_path / "segment.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    key = audit.trusted_keys()[audit._signing_key_id()[0]]
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--key", key, str(path)], capture_output=True, text=True, check=False
    )


def test_an_exported_segment_across_a_purge_verifies_offline(purged, tmp_path):
    lines = list(segment_export(after=0))
    assert any(json.loads(line).get("type") == "tombstone" for line in lines)
    result = _verify_offline(tmp_path, lines)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "purged for retention" in result.stdout


def test_an_exported_segment_with_an_altered_tombstone_fails_offline(purged, tmp_path):
    lines = []
    for line in segment_export(after=0):
        item = json.loads(line)
        if item.get("type") == "tombstone":
            item["tombstone"]["count"] += 1
            line = json.dumps(item) + "\n"
        lines.append(line)
    result = _verify_offline(tmp_path, lines)
    assert result.returncode == 1 and "tombstone" in result.stdout + result.stderr


# --------------------------------------------------------------------------- who may hold and lift


def test_holds_need_the_compliance_role(tenant_a, tenant_b):
    analyst = factories.user(tenant=tenant_a, role=Role.ANALYST)
    officer = factories.user(tenant=tenant_a, role=Role.COMPLIANCE)
    with pytest.raises(AuditRetentionError, match="compliance role"):
        compliance.hold_place(actor=analyst, tenant=tenant_a, reason="x")
    with pytest.raises(AuditRetentionError, match="compliance role"):
        compliance.hold_place(actor=officer, tenant=tenant_b, reason="not my tenant")
    with pytest.raises(AuditRetentionError, match="superusers"):
        compliance.hold_place(actor=officer, tenant=None, reason="everything")
    hold = compliance.hold_place(actor=officer, tenant=tenant_a, reason="matter 12")
    with pytest.raises(AuditRetentionError, match="compliance role"):
        compliance.hold_lift(hold=hold, actor=analyst, reason="done")
    hold.refresh_from_db()
    assert hold.lifted_at is None
    denied = AuditEvent.objects.filter(event_type="access.denied", payload__record_type="legalhold")
    assert denied.count() == 4
    with pytest.raises(AuditRetentionError, match="needs a reason"):
        compliance.hold_lift(hold=hold, actor=officer, reason="  ")
    compliance.hold_lift(hold=hold, actor=officer, reason="matter closed")
    with pytest.raises(AuditRetentionError, match="already lifted"):
        compliance.hold_lift(hold=hold, actor=officer, reason="again")
    assert list(
        AuditEvent.objects.filter(event_type__startswith="audit.hold_")
        .order_by("seq")
        .values_list("event_type", flat=True)
    ) == ["audit.hold_placed", "audit.hold_lifted"]


def test_bad_hold_input_is_refused(tenant_a, superuser):
    with pytest.raises(AuditRetentionError, match="needs a reason"):
        compliance.hold_place(actor=superuser, tenant=tenant_a, reason="")
    with pytest.raises(AuditRetentionError, match="ends before it starts"):
        compliance.hold_place(
            actor=superuser,
            tenant=tenant_a,
            reason="x",
            events_from=timezone.now(),
            events_until=timezone.now() - timedelta(days=1),
        )
    with pytest.raises(AuditRetentionError, match="in the past"):
        compliance.hold_place(actor=superuser, tenant=tenant_a, reason="x", until=timezone.now() - timedelta(days=1))
    with pytest.raises(AuditRetentionError, match="type too"):
        compliance.hold_place(actor=superuser, tenant=tenant_a, reason="x", target_id="42")
