"""`manage.py run` (the last step of `make run`): web, worker and beat come up together and stop on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tools.devstack import servers

ROOT = Path(__file__).resolve().parents[2]


def _test_database_url(settings) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.celery
def test_run_serves_ready_and_stops_cleanly_on_ctrl_c(db, settings, tmp_path):
    # The processes use the (migrated) test database, so readiness does not depend on the dev database, and a
    # metrics folder of their own, so a developer's running `make run` keeps its figures.
    port = servers.free_port()
    env = {**os.environ, "DATABASE_URL": _test_database_url(settings), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port), "--concurrency", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        body, deadline = None, time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    body = json.load(response)
                    break
            except urllib.error.HTTPError as exc:
                body = json.load(exc)
                time.sleep(0.5)
            except OSError:
                time.sleep(0.5)
        if body is None or body["status"] != "ready":
            process.send_signal(signal.SIGINT)
            pytest.fail(f"not ready: {body}\n{process.communicate()[0][-3000:]}")
        time.sleep(3)  # let worker and beat finish starting before the interrupt
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output[-3000:]
    for prefix in ("web    |", "worker |", "beat   |", "sealer |"):
        assert prefix in output
    assert "ready." in output  # the Celery worker connected to the broker
    assert output.rstrip().endswith("all stopped")
    assert not servers.port_is_open(port)
