import pytest

from apps.audit import services


@pytest.fixture(autouse=True)
def _audit_trust(settings, tmp_path):
    """Each audit test has its own checkpoint and verified-state files and trusts only the installation's own key
    unless it says more; no confirmations carry over from events of other tests."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit" / "checkpoint.json"
    settings.AUDIT_VERIFIED_FILE = tmp_path / "audit" / "verified.json"
    settings.AUDIT_TRUSTED_KEYS = []
    services._reset_confirmations()
    yield
    services._reset_confirmations()
