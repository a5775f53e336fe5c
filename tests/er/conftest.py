import pytest


@pytest.fixture(autouse=True)
def _model_storage(settings, tmp_path):
    """Model artifacts are written through Django's storage: keep each test's in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
