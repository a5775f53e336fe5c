import pytest


@pytest.fixture(autouse=True)
def _compliance_files(settings, tmp_path):
    """Each compliance test has its own audit files and media, trusts only the installation's key, and exports
    without waiting for a sealer (what is not sealed is a gap)."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit" / "checkpoint.json"
    settings.AUDIT_VERIFIED_FILE = tmp_path / "audit" / "verified.json"
    settings.AUDIT_TRUSTED_KEYS = []
    settings.ACCESS_REVIEW_EXPORT_WAIT = 0
    settings.MEDIA_ROOT = tmp_path / "media"
