"""The auditor's side of the compliance tests: the offline evidence verifier, run as an auditor runs it (a fresh
interpreter, no project on its path) with only the installation's public key."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings

from apps.audit import services as audit

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "evidence_verify.py"


def keys_file(directory: Path) -> Path:
    path = directory / "trusted_keys"
    path.write_text(audit.signing_key().public_key().public_bytes_raw().hex() + "\n")
    return path


def auditor(directory: Path, bundle: Path, *, keys: Path | None = None) -> subprocess.CompletedProcess:
    """``evidence_verify.py --keys-file KEYS BUNDLE`` (KEYS: the installation's key unless given)."""
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), "--keys-file", str(keys or keys_file(directory)), str(bundle)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )
