import pytest


@pytest.fixture(autouse=True)
def _audit_trust(settings, tmp_path):
    """Each audit test has its own checkpoint file and trusts only the installation's own key unless it says more."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit" / "checkpoint.json"
    settings.AUDIT_TRUSTED_KEYS = []
