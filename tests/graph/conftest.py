"""Graph test fixtures: a private FalkorDB server that a test may stop and start again.

The embedded server is shared with Redis (broker, cache, channel layer), so a test that needs the
graph store *down* stops its own FalkorDB, started from the same wheel, instead.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from apps.graph import selectors
from apps.graph.store import FalkorDBStore, get_store
from tools.devstack import servers


class SpareFalkorDB:
    def __init__(self, data_dir):
        binaries = servers.RedisServer()
        self.server_bin, self.module = binaries.server_bin, binaries.module
        self.data_dir = data_dir
        self.port = servers.free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"falkordb://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(self.server_bin),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--protected-mode",
                "yes",
                "--loadmodule",
                str(self.module),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not servers.port_is_open(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"spare FalkorDB did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def store(self, name: str = "spare") -> FalkorDBStore:
        return FalkorDBStore(self.url, name)


@pytest.fixture
def spare_graph(tmp_path):
    server = SpareFalkorDB(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def graph_on_spare(spare_graph, settings):
    """Point the product's graph store (get_store) at the spare server for this test."""
    settings.GRAPH_URL = spare_graph.url
    settings.GRAPH_NAME = f"t{uuid.uuid4().hex[:8]}"
    get_store.cache_clear()
    selectors.store_recovered()
    yield spare_graph
    get_store.cache_clear()
    selectors.store_recovered()
