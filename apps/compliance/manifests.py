"""Signed evidence files: a zip of files and a manifest that lists each with its SHA-256 and effective period.

The manifest (``manifest.json``, the zip's last member) is one JSON document: its format and version, what kind
of evidence it is, the installation's origin, when it was made, the metadata of what it covers, one entry per
file (name, SHA-256, size, the period it proves, what it is), the gaps (evidence that should be there and is
not, each with why), and, when the files hold audit events, the signed audit checkpoint their inclusion proofs
lead to. It is signed with the installation's audit key (Ed25519 over its canonical JSON), so a file changed,
added, removed or relabelled, or a manifest edited, fails ``scripts/evidence_verify.py``: an auditor's check
with only the public key, no database and no Django (``manage.py evidence_verify`` runs the same code).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.errors import AuditProofError
from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.audit.proofs import event_position, event_proof

MANIFEST_FORMAT = "intelgraph.evidence-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"


@dataclass
class EvidenceFile:
    name: str
    data: bytes
    description: str
    effective_from: datetime | None = None
    effective_until: datetime | None = None
    audit_proofs: bool = False  # JSON lines, each an inclusion proof of one audit event


def iso(value: datetime | date | None) -> str | None:
    """A moment in evidence, in UTC to the second (a day as a day); None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    return value.isoformat()


def audit_proofs_file(name: str, events, *, description: str) -> tuple[EvidenceFile, dict | None, list[dict]]:
    """The inclusion proofs of ``events`` against the latest checkpoint, as a JSON-lines file; the checkpoint they
    lead to (signed), and a gap for each event not sealed yet (it cannot be proved until the sealer reaches it)."""
    checkpoint = AuditCheckpoint.objects.order_by("-size").first()
    lines, gaps = [], []
    for event in events:
        position = event_position(event)
        if checkpoint is None or position is None or position.position > checkpoint.size:
            gaps.append({"what": f"audit event #{event.seq} {event.event_type}", "why": "not sealed yet"})
            continue
        try:
            lines.append(json.dumps(event_proof(event, size=checkpoint.size), sort_keys=True, ensure_ascii=False))
        except AuditProofError as exc:
            gaps.append({"what": f"audit event #{event.seq} {event.event_type}", "why": str(exc)})
    data = ("\n".join(lines) + "\n").encode() if lines else b""
    signed = audit.checkpoint_signed(checkpoint) if checkpoint is not None and lines else None
    return EvidenceFile(name, data, description, audit_proofs=True), signed, gaps


def evidence_zip(*, kind: str, metadata: dict, files: list[EvidenceFile], gaps: list[dict], checkpoint) -> bytes:
    """The zip of ``files`` and their signed manifest."""
    entries = []
    for item in files:
        entries.append(
            {
                "name": item.name,
                "sha256": hashlib.sha256(item.data).hexdigest(),
                "bytes": len(item.data),
                "description": item.description,
                "effective_from": iso(item.effective_from),
                "effective_until": iso(item.effective_until),
                "audit_proofs": item.audit_proofs,
            }
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "kind": kind,
        "origin": settings.AUDIT_LOG_ORIGIN,
        "created_at": iso(timezone.now()),
        "metadata": metadata,
        "files": entries,
        "gaps": gaps,
        "checkpoint": checkpoint,
    }
    manifest.update(audit.sign(audit.canonical_json(manifest)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in files:
            archive.writestr(item.name, item.data)
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return buffer.getvalue()


def audit_events_about(targets: list[tuple[str, str]], *, tenant_id: int) -> list[AuditEvent]:
    """The tenant's audit events naming any of these (target_type, target_id) pairs, in order."""
    by_type: dict[str, list[str]] = {}
    for target_type, target_id in targets:
        by_type.setdefault(target_type, []).append(target_id)
    events = []
    for target_type, ids in by_type.items():
        events += AuditEvent.objects.filter(tenant_id=tenant_id, target_type=target_type, target_id__in=ids)
    return sorted(events, key=lambda e: e.seq)
