"""Graph store adapters behind one small interface.

The graph store is a projection of PostgreSQL (see docs/adr/0002). Two adapters
speak the same openCypher subset: FalkorDB through its native client (the
embedded default; never its experimental Bolt listener) and Neo4j 5 through the
official driver. ``get_store()`` picks one from ``GRAPH_URL``.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlparse

from django.conf import settings


class GraphStoreUnavailable(RuntimeError):
    """The graph store could not be reached or answered with an error."""


class GraphStore:
    """What the rest of the code may ask of a graph store."""

    backend = "abstract"

    def ping(self) -> None:
        """Raise GraphStoreUnavailable unless a trivial query succeeds."""
        raise NotImplementedError

    def query(self, cypher: str, params: dict | None = None) -> list[list]:
        """Run parameterised openCypher and return the rows."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class FalkorDBStore(GraphStore):
    backend = "falkordb"

    def __init__(self, url: str, graph_name: str) -> None:
        from falkordb import FalkorDB

        parsed = urlparse(url)
        self._db = FalkorDB(
            host=parsed.hostname,
            port=parsed.port or 6379,
            username=parsed.username,
            password=parsed.password,
            socket_timeout=5,
            socket_connect_timeout=2,
        )
        self._graph = self._db.select_graph(graph_name)

    def query(self, cypher: str, params: dict | None = None) -> list[list]:
        try:
            return self._graph.query(cypher, params or {}).result_set
        except Exception as exc:  # the client raises redis and its own error types
            raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc

    def ping(self) -> None:
        try:
            self._db.connection.ping()
        except Exception as exc:
            raise GraphStoreUnavailable(f"FalkorDB: {exc}") from exc

    def close(self) -> None:
        self._db.connection.close()


class Neo4jStore(GraphStore):
    backend = "neo4j"

    def __init__(self, url: str, graph_name: str) -> None:
        import neo4j

        parsed = urlparse(url)
        auth = (parsed.username, parsed.password) if parsed.username else None
        clean = parsed._replace(netloc=f"{parsed.hostname}:{parsed.port or 7687}").geturl()
        self._driver = neo4j.GraphDatabase.driver(clean, auth=auth, connection_timeout=5)
        # Community edition has one database; GRAPH_NAME picks one on Enterprise.
        self._database = None if graph_name == "intelgraph" else graph_name

    def query(self, cypher: str, params: dict | None = None) -> list[list]:
        try:
            records, _, _ = self._driver.execute_query(cypher, params or {}, database_=self._database)
        except Exception as exc:
            raise GraphStoreUnavailable(f"Neo4j: {exc}") from exc
        return [list(record.values()) for record in records]

    def ping(self) -> None:
        try:
            self._driver.verify_connectivity()
        except Exception as exc:
            raise GraphStoreUnavailable(f"Neo4j: {exc}") from exc

    def close(self) -> None:
        self._driver.close()


@cache
def get_store() -> GraphStore:
    scheme = urlparse(settings.GRAPH_URL).scheme
    if scheme == "falkordb":
        return FalkorDBStore(settings.GRAPH_URL, settings.GRAPH_NAME)
    return Neo4jStore(settings.GRAPH_URL, settings.GRAPH_NAME)
