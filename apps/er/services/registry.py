"""The model registry: a trained model's canonical bytes, stored under their SHA-256 and recorded as an
immutable artifact. Reading and verifying the bytes is in ``apps.er.selectors`` (``model_bytes``, ``model_load``)."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from apps.audit import services as audit
from apps.er.models import ModelArtifact
from apps.er.selectors import ERError, sha256_hex

MODEL_STORAGE_DIR = "er-models"


def model_register(*, data: bytes, model_id: str, metadata: dict | None = None, actor=None) -> ModelArtifact:
    """Store a model's canonical bytes under their SHA-256 and record the artifact (idempotent: same bytes,
    same artifact). Artifacts are immutable: nothing here ever changes one."""
    if not isinstance(data, bytes) or not data:
        raise ERError("A model artifact needs its bytes.", code="empty")
    model_id = (model_id or "").strip()[:100]
    if not model_id:
        raise ERError("Give the model a name (model_id).", code="required")
    sha = sha256_hex(data)
    existing = ModelArtifact.objects.filter(sha256=sha).first()
    if existing is not None:
        return existing
    stored = _store(f"{MODEL_STORAGE_DIR}/{sha}.model", data, sha)
    with transaction.atomic():
        artifact = ModelArtifact.objects.create(
            sha256=sha,
            model_id=model_id,
            uri=stored,
            size=len(data),
            metadata=metadata or {},
            author=actor if getattr(actor, "pk", None) else None,
        )
        audit.record(
            "er.model_registered",
            actor=actor,
            target=artifact,
            payload={
                "sha256": sha,
                "model_id": model_id,
                "size": len(data),
                "metrics": (metadata or {}).get("metrics", {}),
            },
        )
    return artifact


def _store(name: str, data: bytes, sha: str) -> str:
    """Write the bytes under their address; reuse a file already there only if it holds exactly these bytes."""
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            if sha256_hex(handle.read()) == sha:
                return name
    return default_storage.save(name, ContentFile(data))  # a damaged file is left; the storage picks a new name
