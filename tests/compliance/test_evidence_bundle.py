"""Evidence bundle v4 (issue 20, item 4): a quarter's evidence under one signed manifest, built by a real Celery
worker from the admin with its progress followed, checked offline by the auditor's script, and refused when
anything in it is changed."""

import hashlib
import io
import json
import time
import zipfile

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.audit.sealing import seal_pending
from apps.compliance import services as compliance
from apps.compliance.models import EvidenceBundle
from apps.core.choices import Role
from intelgraph.celery import app
from tests import factories
from tests.compliance.auditing import auditor

pytestmark = pytest.mark.django_db(transaction=True)


def _quarter_with_evidence():
    tenant = factories.tenant("acme")
    officer = factories.user(tenant=tenant, username="cora", role=Role.COMPLIANCE, staff=True)
    admin = factories.user(tenant=tenant, username="adam", role=Role.ADMIN, staff=True)
    for kind in ("er.pair_approved", "er.pair_rejected", "er.merged"):
        audit.record(kind, actor=admin, tenant=tenant, payload={"pair": 1})
    review = compliance.access_review_launch(tenant=tenant, actor=officer)
    for item in review.items.all():
        reviewer = admin if item.user_id == officer.pk else officer
        compliance.access_review_decide(item=item, actor=reviewer, decision="certified", reason="checked")
    compliance.access_review_close(review=review, actor=officer)
    seal_pending()
    return tenant, officer, review


def test_the_bundle_holds_the_quarters_evidence_and_verifies_offline(tmp_path):
    _, _, review = _quarter_with_evidence()
    out = tmp_path / "bundle.zip"
    call_command(
        "evidence_export", "--period", review.period, "--tenant", "acme", "--out", str(out), stdout=io.StringIO()
    )
    with zipfile.ZipFile(out) as archive:
        names = sorted(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        status = json.loads(archive.read("controls/status.json"))
        nested = archive.read(f"access-reviews/access-review-acme-{review.period}.zip")
    assert names == sorted(
        [
            "manifest.json", "controls/status.json", "controls/applicability.json", "er/model-registry.json",
            "er/decisions.proofs.jsonl", "api/compatibility.json", f"access-reviews/access-review-acme-{review.period}.zip",
            "safety/backups-and-drills.json", "audit/checkpoint.json",
        ]
    )  # fmt: skip
    assert manifest["kind"] == "evidence-bundle-v4" and manifest["metadata"]["tenant"] == "acme"
    assert {c["control"] for c in status["controls"]} >= {"CC6.2", "CC7.2", "A1.3"}
    gaps = " ".join(f"{g['what']}: {g['why']}" for g in manifest["gaps"])
    assert "issue 17" not in gaps and "issue 18" in gaps and "issue 22" in gaps
    result = auditor(tmp_path, out)
    assert result.returncode == 0, result.stderr
    assert "OK: evidence-bundle-v4 evidence" in result.stdout and "3 audit event(s) proved" in result.stdout
    assert "GAP: backup and restore timings" not in result.stdout
    (tmp_path / "nested.zip").write_bytes(nested)
    assert auditor(tmp_path, tmp_path / "nested.zip").returncode == 0  # the review's own export checks too
    # relabelling a file's period breaks the manifest's signature
    with zipfile.ZipFile(out) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edited = json.loads(members["manifest.json"])
    edited["files"][0]["effective_from"] = "2020-01-01T00:00:00+00:00"
    members["manifest.json"] = json.dumps(edited).encode()
    with zipfile.ZipFile(tmp_path / "relabelled.zip", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = auditor(tmp_path, tmp_path / "relabelled.zip")
    assert result.returncode == 1 and "the manifest: the signature does not verify" in result.stderr


def test_bad_requests_are_refused_with_a_clear_message(tmp_path):
    tenant = factories.tenant("acme")
    other = factories.tenant("globex")
    officer = factories.user(tenant=tenant, role=Role.COMPLIANCE)
    with pytest.raises(CommandError, match="is not a quarter"):
        call_command("evidence_export", "--period", "2026-13", "--out", str(tmp_path / "x.zip"))
    with pytest.raises(CommandError, match="there is no tenant 'nope'"):
        call_command("evidence_export", "--period", "2026-Q4", "--tenant", "nope", "--out", str(tmp_path / "x.zip"))
    with pytest.raises(CommandError, match="has not started"):
        call_command("evidence_export", "--period", "2099-Q1", "--out", str(tmp_path / "x.zip"))
    with pytest.raises(CommandError, match="2021-Q2 holds no audit event of acme: there is nothing to prove"):
        call_command("evidence_export", "--period", "2021-Q2", "--tenant", "acme", "--out", str(tmp_path / "x.zip"))
    with pytest.raises(compliance.ComplianceError, match="needs the compliance role there"):
        compliance.evidence_bundle_request(tenant=other, period="2026-Q4", actor=officer)
    with pytest.raises(compliance.ComplianceError, match="every tenant is for superusers"):
        compliance.evidence_bundle_request(tenant=None, period="2026-Q4", actor=officer)
    assert EvidenceBundle.objects.count() == 0 and not (tmp_path / "x.zip").exists()


def test_asked_for_in_the_admin_a_worker_builds_it_and_the_page_follows(tmp_path):
    tenant, officer, review = _quarter_with_evidence()
    client = Client()
    client.force_login(officer)
    app.control.purge()
    add = client.get("/admin/compliance/evidencebundle/add/")
    assert add.status_code == 200 and 'name="period"' in add.content.decode()
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        response = client.post(
            "/admin/compliance/evidencebundle/add/", {"tenant": tenant.pk, "period": review.period, "_save": "Save"}
        )
        assert response.status_code == 302, response.content.decode()[:500]
        bundle = EvidenceBundle.objects.get()
        progress_url = f"/admin/compliance/evidencebundle/{bundle.pk}/progress/"
        seen, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            state = client.get(progress_url).json()
            seen.append(state["progress"])
            if state["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
    assert state["status"] == "done", state
    assert seen == sorted(seen) and state["progress"] == 100
    page = client.get(f"/admin/compliance/evidencebundle/{bundle.pk}/change/").content.decode()
    assert 'id="eb-download"' in page and "evidence_verify.py" in page
    download = client.get(state["download"])
    out = tmp_path / "downloaded.zip"
    out.write_bytes(b"".join(download.streaming_content))
    assert auditor(tmp_path, out).returncode == 0
    assert AuditEvent.objects.filter(event_type="compliance.bundle_exported", tenant=tenant).count() == 1


def test_an_event_whose_proof_does_not_lead_to_the_checkpoint_is_refused(tmp_path):
    """Even under a manifest signed with the installation's key (an insider's bundle), a proof that does not lead
    from its event to the checkpoint fails: the auditor checks every event, not only the files' hashes."""
    from apps.compliance import manifests

    _quarter_with_evidence()
    events = list(AuditEvent.objects.filter(event_type="er.merged"))
    proofs, checkpoint, gaps = manifests.audit_proofs_file("er.proofs.jsonl", events, description="ER")
    proof = json.loads(proofs.data)
    proof["event"]["body"]["payload"] = {"pair": 2}
    proof["event"]["hash"] = hashlib.sha256(audit.canonical_json(proof["event"]["body"])).hexdigest()
    proof["event"]["signature"] = audit.signing_key().sign(proof["event"]["hash"].encode()).hex()
    proofs.data = (json.dumps(proof) + "\n").encode()
    data = manifests.evidence_zip(kind="test", metadata={}, files=[proofs], gaps=gaps, checkpoint=checkpoint)
    (tmp_path / "insider.zip").write_bytes(data)
    result = auditor(tmp_path, tmp_path / "insider.zip")
    assert result.returncode == 1 and "does not lead from the event to the root" in result.stderr
