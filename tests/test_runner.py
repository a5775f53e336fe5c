"""`manage.py run` (the last step of `make run`): web, worker and beat come up together and stop on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from intelgraph import devstack

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.celery
def test_run_serves_ready_and_stops_cleanly_on_ctrl_c():
    port = devstack.free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port), "--concurrency", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ},
    )  # fmt: skip
    try:
        body, deadline = None, time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    body = json.load(response)
                    break
            except OSError:
                time.sleep(0.5)
        assert body is not None and body["status"] == "ready", body
        time.sleep(3)  # let worker and beat finish starting before the interrupt
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output[-3000:]
    for prefix in ("web    |", "worker |", "beat   |"):
        assert prefix in output
    assert "ready." in output  # the Celery worker connected to the broker
    assert output.rstrip().endswith("all stopped")
    assert not devstack.port_is_open(port)
