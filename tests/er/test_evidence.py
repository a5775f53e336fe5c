"""manage.py er_evidence: a tenant's ER decisions as signed audit evidence, and checking such a file offline."""

import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.access.services import subject_for
from apps.core.choices import Role, Sensitivity
from apps.er import services as er
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(tenant_a, tenant_b):
    """In tenant A: one approval (with its merge) and one rejection; in tenant B: a rejection of its own."""
    made = {}
    for tenant in (tenant_a, tenant_b):
        a, b, c = (factories.entity(tenant=tenant, name=name) for name in ("Ada Lovelace", "Ada King", "Charles B."))
        reviewer = factories.user(tenant=tenant, role=Role.REVIEWER, clearance=Sensitivity.TOP_SECRET)
        subject = subject_for(user=reviewer, purpose="investigation")
        reject = factories.candidate_pair(tenant=tenant, a=a, b=c, score=0.8)
        er.pair_reject(subject=subject, pair=reject, reason="different people")
        if tenant == tenant_a:
            approve = factories.candidate_pair(tenant=tenant, a=a, b=b, score=0.95, model_sha="b" * 64)
            made["merge"] = er.pair_approve(subject=subject, pair=approve, reason="same birth date")
    return made


def export(tmp_path, *args):
    out = tmp_path / "evidence.jsonl"
    said = io.StringIO()
    call_command("er_evidence", "--out", str(out), *args, stdout=said)
    return out, said.getvalue()


def test_export_holds_the_tenants_decisions_with_their_hashes_and_signatures(decided, tenant_a, tmp_path):
    out, said = export(tmp_path, "--tenant", tenant_a.slug)
    header, *items = [json.loads(line) for line in out.read_text().splitlines()]
    assert header["tenant"] == tenant_a.slug and header["events"] == len(items) and header["keys"]
    kinds = [item["body"]["event_type"] for item in items]
    assert kinds.count("er.pair_approved") == 1 and kinds.count("er.pair_rejected") == 1 and "er.merged" in kinds
    assert {item["body"]["tenant_id"] for item in items} == {tenant_a.pk}  # nothing of tenant B
    approved = next(item["body"] for item in items if item["body"]["event_type"] == "er.pair_approved")
    assert approved["payload"]["purpose"] == "investigation" and approved["payload"]["model"] == "b" * 64
    assert "wrote" in said and "er.pair_approved 1" in said
    checked = io.StringIO()
    call_command("er_evidence", "--verify", str(out), stdout=checked)
    assert f"{len(items)} event(s) of tenant {tenant_a.slug} intact and signed" in checked.getvalue()


def test_a_changed_or_dropped_line_fails_the_check(decided, tenant_a, tmp_path):
    out, _ = export(tmp_path, "--tenant", tenant_a.slug)
    lines = out.read_text().splitlines()
    item = json.loads(lines[1])
    item["body"]["payload"]["reason"] = "edited afterwards"
    out.write_text("\n".join([lines[0], json.dumps(item), *lines[2:]]) + "\n")
    with pytest.raises(CommandError, match="line 2: content does not match its hash"):
        call_command("er_evidence", "--verify", str(out))
    out.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    with pytest.raises(CommandError, match="the header says"):
        call_command("er_evidence", "--verify", str(out))


def test_a_date_range_selects_events(decided, tenant_a, tmp_path):
    out, said = export(tmp_path, "--tenant", tenant_a.slug, "--until", "2000-01-01")
    assert json.loads(out.read_text().splitlines()[0])["events"] == 0 and "no events" in said


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --tenant"),
        (("--tenant", "nobody"), "unknown tenant 'nobody'"),
        (("--tenant", "SLUG", "--since", "26/11/2026"), "give a date as YYYY-MM-DD"),
        (("--tenant", "SLUG", "--since", "2026-11-27", "--until", "2026-11-01"), "--since is after --until"),
        (("--verify", "/nonexistent/file.jsonl"), "no such file"),
        (("--tenant", "SLUG", "--out", "/nonexistent/dir/x.jsonl"), "cannot be written"),
    ],
)
def test_bad_input_is_one_clear_error(tenant_a, args, message):
    args = [tenant_a.slug if a == "SLUG" else a for a in args]
    with pytest.raises(CommandError, match=message):
        call_command("er_evidence", *args)


def test_verify_refuses_a_file_that_is_not_an_export(tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(CommandError, match="not an ER evidence export"):
        call_command("er_evidence", "--verify", str(other))


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, items):
    path.write_text("".join(json.dumps(item) + "\n" for item in items))


def test_a_relabelled_spliced_repeated_or_forged_file_fails(decided, tenant_a, tenant_b, tmp_path):
    ours, _ = export(tmp_path, "--tenant", tenant_a.slug)
    theirs = tmp_path / "b.jsonl"
    call_command("er_evidence", "--tenant", tenant_b.slug, "--out", str(theirs), stdout=io.StringIO())
    header, *items = _lines(ours)
    b_header, *b_items = _lines(theirs)
    forged = tmp_path / "forged.jsonl"
    cases = {
        "header: signature does not verify": [
            {**b_header, "tenant": tenant_a.slug, "tenant_id": tenant_a.pk},
            *b_items,
        ],  # B's export relabelled as A's
        "not of the header's tenant": [header, *items, b_items[0]],  # one of B's events spliced in
        "out of order or repeated": [header, *items, items[-1]],
        "lines dropped, added or reordered": [header, *items[:-1]],
    }
    for message, content in cases.items():
        _write(forged, content)
        with pytest.raises(CommandError, match=message):
            call_command("er_evidence", "--verify", str(forged))
    made_up = {key: value for key, value in header.items() if key != "header_signature"}
    _write(
        forged,
        [
            {
                **made_up,
                "events": 0,
                "digest": hashlib.sha256(b"").hexdigest(),
                "header_signature": {"key_id": header["header_signature"]["key_id"], "signature": "00" * 64},
            }
        ],
    )
    with pytest.raises(CommandError, match="header: signature does not verify"):
        call_command("er_evidence", "--verify", str(forged))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe not text", "cannot be read as UTF-8"),
        (b"", "the file is empty"),
        (b"not json\n", "no intelgraph.er-evidence/1 header"),
    ],
)
def test_unreadable_files_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("er_evidence", "--verify", str(path))


def test_malformed_event_lines_are_reported_not_raised(decided, tenant_a, tmp_path):
    out, _ = export(tmp_path, "--tenant", tenant_a.slug)
    header, first, *rest = _lines(out)
    _write(out, [header, {**first, "body": "text"}, {**rest[0], "signature": 5}, *rest[1:]])
    with pytest.raises(CommandError, match="line 2: not an evidence item") as raised:
        call_command("er_evidence", "--verify", str(out))
    assert "line 3: not an evidence item" in str(raised.value)


def test_the_format_round_trips_through_compliance_evidence(decided, tenant_a):
    """Given a tenant's ER events, when they are exported and written by apps.compliance.evidence, then the
    written lines check out, and a line of another kind is named as not belonging."""
    from apps.compliance import evidence
    from apps.er import selectors

    export = evidence.evidence_export(tenant=tenant_a, events=selectors.decision_events(tenant=tenant_a))
    written = io.StringIO()
    evidence.evidence_write(export, written)
    lines = written.getvalue().splitlines()
    kinds = {"event_types": selectors.EVIDENCE_EVENTS, "shared_event_types": ("er.model_pinned",)}
    check = evidence.evidence_verify(lines=lines, **kinds)
    assert check.ok and check.events == len(export.items) == len(lines) - 1 and check.tenant == tenant_a.slug
    assert export.counts["er.pair_approved"] == 1
    narrower = evidence.evidence_verify(lines=lines, event_types={"er.pair_approved"})
    assert not narrower.ok and any("is not ER evidence" in problem for problem in narrower.problems)
    with pytest.raises(evidence.EvidenceFileError, match="the file is empty"):
        evidence.evidence_verify(lines=[], **kinds)
