"""The product's ASGI application served by a real uvicorn process, for benchmarks and browser tests.

``make bench-search`` and ``make bench-graph`` load it with requests; ``tests/browser`` drives the
Explorer against it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

from django.conf import settings


class AsgiServer:
    """uvicorn serving intelgraph.asgi on a free loopback port, as `make run` starts it (with its connection
    pool), but with DEBUG off as in production; ``env`` adds or overrides variables. Stopped on exit."""

    SERVING_ENV = {"DATABASE_POOL_MAX": "8", "DJANGO_DEBUG": "0"}

    def __init__(self, *, log_path: Path, ready_timeout: float = 90.0, env: dict | None = None):
        self.env = {**os.environ, **self.SERVING_ENV, **(env or {})}
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> AsgiServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "intelgraph.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--lifespan",
            "off",
            "--no-server-header",
        ]
        self.process = subprocess.Popen(argv, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}; see {self.log_path}")
            probe = HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                probe.request("GET", "/readyz")
                if probe.getresponse().status == 200:
                    return self
            except OSError:
                pass  # not listening yet
            finally:
                probe.close()
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"uvicorn not ready at {self.url}/readyz after {self.ready_timeout:.0f} s")
            time.sleep(0.25)

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    """A loopback port nothing listens on now (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
