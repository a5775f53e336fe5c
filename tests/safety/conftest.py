import logging

import pytest


@pytest.fixture(autouse=True)
def _safety_files(settings, tmp_path):
    """Each test has its own audit files, scratch folder and graph snapshots; the repository is the embedded
    server's own (var/backups/: its WAL archive goes there), shared with development, as the server is."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit" / "checkpoint.json"
    settings.AUDIT_VERIFIED_FILE = tmp_path / "audit" / "verified.json"
    settings.AUDIT_TRUSTED_KEYS = []
    settings.BACKUP_SCRATCH_DIR = tmp_path / "scratch"
    settings.BACKUP_GRAPH_SNAPSHOT_DIR = tmp_path / "graph-snapshots"


@pytest.fixture
def outbox_alerts(caplog, settings):
    """The subjects of the alerts raised (with no recipients configured, alert() logs each one it is given)."""
    settings.ALERT_EMAILS = []
    settings.ALERT_SLACK_WEBHOOK_URL = ""
    caplog.set_level(logging.WARNING, logger="intelgraph.alerts")
    prefix = "alert (no recipients configured): "
    return lambda: [r.getMessage()[len(prefix) :] for r in caplog.records if r.getMessage().startswith(prefix)]
