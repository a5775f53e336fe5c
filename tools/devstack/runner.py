"""Run the web server, a Celery worker, Celery beat and the audit sealer together in the foreground (``manage.py run``).

Each process's output is prefixed with its name. Ctrl-C (or SIGTERM) stops all
four cleanly; if one of them dies, the others are stopped too and the exit
status says which failed. Development only: production runs the three as
separate processes (``deploy/README.md``; the sealer as a singleton).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from intelgraph.metrics import clean_multiprocess_dir

COLOURS = {"web": "\033[36m", "worker": "\033[33m", "beat": "\033[35m", "sealer": "\033[32m"}
RESET = "\033[0m"
MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


@dataclass
class Managed:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    env: dict | None = None  # added to the environment of this process only


def commands(*, host: str, port: int, concurrency: int) -> list[Managed]:
    python = sys.executable
    return [
        Managed(
            "web",
            [
                python,
                "-m",
                "uvicorn",
                "intelgraph.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-server-header",
            ],
            # The web server pools its PostgreSQL connections (see DATABASE_POOL_MAX in settings).
            env={"DATABASE_POOL_MAX": os.environ.get("DATABASE_POOL_MAX", "8")},
        ),
        Managed(
            "worker",
            [
                python,
                "-m",
                "celery",
                "-A",
                "intelgraph",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--hostname",
                "worker@%h",
                "--without-gossip",
                "--without-mingle",
            ],
        ),
        Managed(
            "beat",
            [
                python,
                "-m",
                "celery",
                "-A",
                "intelgraph",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                "/dev/null",
                "--pidfile=",
            ],
        ),
        # Gives committed audit events their positions in the Merkle log and signs checkpoints (one at a time:
        # it holds an advisory lock; appends never wait for it).
        Managed("sealer", [python, str(MANAGE), "audit_sealer"]),
    ]


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the child if the supervisor itself is killed (e.g. kill -9), so none are orphaned."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def run(managed: list[Managed], *, echo=print) -> int:
    colour = sys.stdout.isatty()
    selector = selectors.DefaultSelector()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        clean_multiprocess_dir(env["PROMETHEUS_MULTIPROC_DIR"])
    for item in managed:
        item.process = subprocess.Popen(
            item.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**env, **(item.env or {})},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        selector.register(item.process.stdout, selectors.EVENT_READ, item)

    stopping = {"signal": None}

    def on_signal(signum, frame):
        stopping["signal"] = signum

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    width = max(len(m.name) for m in managed)
    failed = None
    try:
        while stopping["signal"] is None and failed is None:
            for key, _ in selector.select(timeout=0.5):
                _pump(key.data, key.fileobj, width, colour, echo)
            for item in managed:
                if item.process.poll() is not None:
                    failed = item
                    break
        if failed is not None:
            echo(f"{failed.name} exited with status {failed.process.returncode}; stopping the others")
        else:
            echo("stopping (Ctrl-C again to force)…")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(managed, selector, width, colour, echo)
    return failed.process.returncode or 1 if failed is not None else 0


def _pump(item: Managed, stream, width: int, colour: bool, echo) -> None:
    line = stream.readline()
    if not line:
        return
    text = line.decode(errors="replace").rstrip()
    prefix = f"{item.name:<{width}} |"
    if colour:
        prefix = f"{COLOURS.get(item.name, '')}{prefix}{RESET}"
    echo(f"{prefix} {text}")


def _stop_all(managed: list[Managed], selector, width: int, colour: bool, echo) -> None:
    for item in managed:
        if item.process and item.process.poll() is None:
            os.killpg(item.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(m.process.poll() is None for m in managed):
        for key, _ in selector.select(timeout=0.2):
            _pump(key.data, key.fileobj, width, colour, echo)
    for item in managed:
        if item.process.poll() is None:
            echo(f"{item.name} did not stop in 15 s; killing it")
            os.killpg(item.process.pid, signal.SIGKILL)
            item.process.wait()
    for key in list(selector.get_map().values()):
        for line in key.fileobj.readlines():
            echo(f"{key.data.name:<{width}} | {line.decode(errors='replace').rstrip()}")
    echo("all stopped")
