"""Inclusion proofs, consistency proofs and exported segments, checked by the standalone verifier as an auditor
would: scripts/audit_verify_proof.py in a fresh Python with no Django and no database."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit import merkle
from apps.audit import services as audit
from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.audit.sealing import TILE_LEVEL, StoredTree
from tests import factories
from tests.audit.tampering import appended, sealed

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit_verify_proof.py"
pytestmark = pytest.mark.django_db(transaction=True)

# RFC 6962 test vectors (the certificate-transparency project's merkle tree tests): inputs and roots of 1..8 leaves
INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _script_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("audit_verify_proof", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=False)
def test_tree_hashing_matches_rfc_6962_and_the_standalone_verifier_agrees():
    leaves = [merkle.leaf_hash(data) for data in INPUTS]
    script = _script_module()
    for n in range(1, 9):
        assert merkle.root_of(leaves[:n]).hex() == ROOTS[n - 1]
        frontier = script.Frontier(0, [])
        for leaf in leaves[:n]:
            frontier.append(leaf)
        assert frontier.root().hex() == ROOTS[n - 1]

        def subtree(level, index, n=n):
            return merkle.root_of(leaves[index << level : (index + 1) << level])

        for index in range(n):
            path = merkle.inclusion_path(index, n, subtree)
            assert merkle.verify_inclusion(leaves[index], index, n, path, bytes.fromhex(ROOTS[n - 1]))
            assert script.verify_inclusion(leaves[index], index, n, path, bytes.fromhex(ROOTS[n - 1]))
            assert not script.verify_inclusion(
                leaves[index], index, n, path, bytes.fromhex(ROOTS[0] if n > 1 else ROOTS[1])
            )
        for first in range(1, n + 1):
            path = merkle.consistency_path(first, n, subtree)
            args = (first, n, bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[n - 1]), path)
            assert merkle.verify_consistency(*args) and script.verify_consistency(*args)
    # RFC 6962's own example: the audit path of leaf 3 (d) in the tree of 7 leaves is [c, g(e,f), h(a,b)... ]
    assert (
        len(
            merkle.inclusion_path(
                3, 7, lambda level, index: merkle.root_of(leaves[index << level : (index + 1) << level])
            )
        )
        == 3
    )


def _keys_file(tmp_path) -> Path:
    public = audit.signing_key().public_key().public_bytes_raw().hex()
    path = tmp_path / "trusted_keys"
    path.write_text(f"# the auditor's copy of the installation's public key\n{public}\n")
    return path


def _auditor(tmp_path, *args):
    """The standalone verifier in a fresh interpreter with no project on its path (as an auditor runs it)."""
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), "--keys-file", str(_keys_file(tmp_path)), *map(str, args)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_audit_prove_writes_a_proof_the_standalone_verifier_accepts(tmp_path, settings):
    # Given a sealed log of several batches, past one stored tile
    sealed(1 << TILE_LEVEL)
    events = sealed(20)
    target = events[7]
    # When the auditor gets the proof of one event
    out = tmp_path / "proof.json"
    said = io.StringIO()
    call_command("audit_prove", str(target.seq), "--out", str(out), stdout=said)
    assert f"wrote the proof of event #{target.seq}" in said.getvalue()
    proof = json.loads(out.read_text())
    assert proof["tree_size"] == AuditCheckpoint.objects.order_by("-size").first().size
    # Then the standalone verifier accepts it, and against the checkpoint file they hold
    result = _auditor(tmp_path, out, "--checkpoint", settings.AUDIT_CHECKPOINT_FILE)
    assert result.returncode == 0, result.stderr
    assert f"OK: event #{target.seq} test.event" in result.stdout and "is the one you hold" in result.stdout
    # A changed payload, a wrong position or a forged checkpoint is refused, with one line saying why
    for edit, message in (
        (lambda p: p["event"]["body"]["payload"].update(n=999), "the body does not hash"),
        (lambda p: p.update(leaf_index=p["leaf_index"] + 1), "does not lead from the event to the root"),
        (lambda p: p["checkpoint"].update(size=p["checkpoint"]["size"] + 1), "signature does not verify"),
    ):
        forged = json.loads(out.read_text())
        edit(forged)
        (tmp_path / "forged.json").write_text(json.dumps(forged))
        result = _auditor(tmp_path, tmp_path / "forged.json")
        assert result.returncode == 1 and message in result.stderr and result.stderr.startswith("NOT VERIFIED")


def test_a_proof_against_a_newer_checkpoint_carries_consistency_with_the_one_the_auditor_holds(tmp_path, settings):
    sealed(5)
    held = tmp_path / "held-checkpoint.json"
    held.write_text(settings.AUDIT_CHECKPOINT_FILE.read_text())  # the auditor kept checkpoint 5
    events = sealed(7)
    out = tmp_path / "proof.json"
    call_command("audit_prove", str(events[2].seq), "--out", str(out), stdout=io.StringIO())
    result = _auditor(tmp_path, out, "--checkpoint", held)
    assert result.returncode == 1 and "audit_prove --since 5" in result.stderr
    call_command("audit_prove", str(events[2].seq), "--since", "5", "--out", str(out), stdout=io.StringIO())
    result = _auditor(tmp_path, out, "--checkpoint", held)
    assert result.returncode == 0, result.stderr
    assert "extends the checkpoint 5 you hold (consistency proven)" in result.stdout


def test_an_exported_segment_checks_offline_and_a_changed_line_fails(tmp_path):
    sealed(3)
    sealed(4)
    out = tmp_path / "segment.jsonl"
    call_command("audit_export", "--after", "3", "--out", str(out), stdout=io.StringIO())
    result = _auditor(tmp_path, out)
    assert result.returncode == 0, result.stderr
    assert "OK: positions 4..7: 4 event(s), every signature and 1 checkpoint(s) checked" in result.stdout
    lines = out.read_text().splitlines()
    item = json.loads(lines[2])
    item["body"]["actor_label"] = "someone else"
    (tmp_path / "changed.jsonl").write_text("\n".join([lines[0], lines[1], json.dumps(item), *lines[3:]]) + "\n")
    result = _auditor(tmp_path, tmp_path / "changed.jsonl")
    assert result.returncode == 1 and "position 5: the body does not hash" in result.stderr
    (tmp_path / "dropped.jsonl").write_text("\n".join([lines[0], lines[1], *lines[3:]]) + "\n")
    result = _auditor(tmp_path, tmp_path / "dropped.jsonl")
    assert result.returncode == 1 and "expected 5 (a position is missing)" in result.stderr


def test_prove_and_export_refuse_clearly():
    pending = appended(1)[0]
    with pytest.raises(CommandError, match="there is no audit event #999999"):
        call_command("audit_prove", "999999")
    with pytest.raises(CommandError, match="expected an event number"):
        call_command("audit_prove", "abc")
    with pytest.raises(CommandError, match=f"event #{pending.seq} is not sealed yet"):
        call_command("audit_prove", str(pending.seq))
    with pytest.raises(CommandError, match="the log has no checkpoint yet"):
        call_command("audit_export", stdout=io.StringIO())


def test_the_stored_tree_gives_the_same_subtrees_as_the_leaves():
    events = sealed((1 << TILE_LEVEL) + 3)
    leaves = [merkle.leaf_hash(bytes.fromhex(e.hash)) for e in events]
    tree = StoredTree()
    assert tree.subtree(TILE_LEVEL, 0) == merkle.root_of(leaves[: 1 << TILE_LEVEL])
    assert tree.frontier(len(leaves)).root() == merkle.root_of(leaves)


def test_the_admin_change_page_has_a_prove_button_that_downloads_the_proof(client, tenant_a, tmp_path):
    event = audit.record("test.event", tenant=tenant_a, payload={"n": 1})
    admin = factories.user(tenant=tenant_a, staff=True)
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    client.force_login(admin)
    page = client.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
    assert "Not sealed yet" in page and "/prove/" not in page
    from apps.audit.sealing import seal_pending

    seal_pending()
    page = client.get(f"/admin/audit/auditevent/{event.pk}/change/").content.decode()
    assert "Sealed: position" in page and f"/admin/audit/auditevent/{event.pk}/prove/" in page
    response = client.get(f"/admin/audit/auditevent/{event.pk}/prove/")
    assert response.status_code == 200 and response["Content-Disposition"].endswith(f'audit-proof-{event.seq}.json"')
    (tmp_path / "proof.json").write_bytes(response.content)
    result = _auditor(tmp_path, tmp_path / "proof.json")
    assert result.returncode == 0, result.stderr


def test_the_prove_page_keeps_tenant_scoping(client, tenant_a, tenant_b):
    other = audit.record("test.event", tenant=tenant_b)
    from apps.audit.sealing import seal_pending

    seal_pending()
    staff = factories.user(tenant=tenant_a, staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(staff)
    response = client.get(f"/admin/audit/auditevent/{other.pk}/prove/")
    assert response.status_code in (302, 403, 404)
    assert AuditEvent.objects.filter(pk=other.pk).exists()
    assert not response.get("Content-Disposition")
