import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from tests import factories


@pytest.fixture
def tenant_a(db):
    return factories.tenant("alpha", name="Alpha Bank")


@pytest.fixture
def tenant_b(db):
    return factories.tenant("bravo", name="Bravo Insurance")


# Event types only the tests record (record() refuses a type the catalogue does not list).
TEST_EVENT_TYPES = (
    "test.event",
    "test.bulk_written",
    "test.concurrent",
    "test.created",
    "test.doomed",
    "test.during_load",
    "test.kept",
    "test.updated",
    "matrix.bravo",
    "test.chained",
    "test.purpose",
    "test.t1",
    "test.t2",
)


@pytest.fixture(scope="session", autouse=True)
def _test_event_types():
    from apps.audit import catalogue

    for name in TEST_EVENT_TYPES:
        catalogue.EVENT_TYPES[name] = catalogue.EventType(name, "tests", catalogue.STANDARD, "recorded by the tests")
    yield
    for name in TEST_EVENT_TYPES:
        catalogue.EVENT_TYPES.pop(name, None)


@pytest.fixture(scope="session", autouse=True)
def _graph_test_keys_removed():
    """Test graphs live in the embedded server under GRAPH_NAME (intelgraph_test:*); leave none behind."""
    yield
    from django.conf import settings

    from apps.graph.store import get_store

    store = get_store()
    connection = getattr(store, "_db", None)
    if connection is not None:
        for key in connection.connection.scan_iter(f"{settings.GRAPH_NAME}:*"):
            connection.connection.delete(key)


# --------------------------------------------------------------------------- GraphQL client


class GraphQLBody(dict):
    """A parsed GraphQL answer (a dict, so ``body["data"]`` works) with the HTTP response beside it."""

    def __init__(self, response):
        super().__init__(response.json())
        self.response = response

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def data(self) -> dict | None:
        return self.get("data")

    @property
    def errors(self) -> list[dict]:
        return self.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [(error.get("extensions") or {}).get("code") for error in self.errors]

    @property
    def error_code(self) -> str | None:
        """The first error's code, or None when the answer has no error."""
        return self.codes[0] if self.errors else None

    def text(self) -> str:
        return json.dumps(self)


class GraphQLClient:
    """Posts to /graphql as one caller: a session user, a bearer token or nobody, with an optional purpose.

    ``post`` takes a document or a persisted operation's id from graphql/safelist.json (sent as
    ``{"id": ..., "variables": ...}``, as integrators send it).
    """

    def __init__(self, client: Client, *, token: str | None = None, purpose: str | None = None):
        self.client = client
        self.headers = {}
        if token:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if purpose:
            self.headers["HTTP_X_IG_PURPOSE"] = purpose

    @staticmethod
    def is_persisted_id(query_or_id: str) -> bool:
        from apps.versioning import safelist

        return "{" not in query_or_id and query_or_id in safelist.load()

    def payload(self, query_or_id: str, variables: dict | None = None) -> dict:
        if self.is_persisted_id(query_or_id):
            return {"id": query_or_id, "variables": variables or {}}
        return {"query": query_or_id, "variables": variables or {}}

    def post(self, query_or_id: str, variables: dict | None = None, **headers) -> GraphQLBody:
        response = self.client.post(
            "/graphql",
            data=json.dumps(self.payload(query_or_id, variables)),
            content_type="application/json",
            **{**self.headers, **headers},
        )
        return GraphQLBody(response)


@pytest.fixture
def gql(db):
    """A factory of GraphQL callers: ``gql(user)``, ``gql(token=raw)``, ``gql()`` (anonymous),
    ``gql(user, purpose="investigation")`` or ``gql(client=client)`` to reuse a test client's session."""

    def make(user=None, *, token: str | None = None, purpose: str | None = None, client: Client | None = None):
        browser = client or Client()
        if user is not None:
            browser.force_login(user)
        return GraphQLClient(browser, token=token, purpose=purpose)

    return make


@pytest.fixture
def asgi_server_factory(transactional_db, tmp_path):
    """Start the product's ASGI application (HTTP and WebSockets) in uvicorn, as `make run` serves it, in a child
    process on the test database: ``asgi_server_factory(GRAPHQL_REQUIRE_PERSISTED="true")``. Each yields an
    object with ``url``; all are stopped at the end of the test."""
    from contextlib import ExitStack
    from itertools import count

    from django.conf import settings
    from django.db import connection

    from tools.asgi_server import AsgiServer

    db = connection.settings_dict
    base = {
        "DJANGO_ENV": "test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "GRAPH_URL": settings.GRAPH_URL,
        "GRAPH_NAME": settings.GRAPH_NAME,
    }
    numbers = count()
    with ExitStack() as stack:

        def start(**env):
            log = tmp_path / f"uvicorn-{next(numbers)}.log"
            return stack.enter_context(AsgiServer(log_path=log, env={**base, **env}, ready_timeout=60))

        yield start


@pytest.fixture
def asgi_server(asgi_server_factory):
    """The product served by uvicorn on the test database, with its default settings (``asgi_server_factory``)."""
    return asgi_server_factory()


@pytest.fixture
def barman_cleanup():
    """Delete the Barman backups a test took (its rows go with the test's database; the files would stay)."""
    import contextlib

    from django.conf import settings

    from apps.safety import engine

    def ids() -> set[str]:
        with contextlib.suppress(Exception):
            listed = engine.barman_json("list-backups", settings.BACKUP_SERVER_NAME)
            return {row["backup_id"] for row in listed} if isinstance(listed, list) else set()
        return set()

    before = ids()
    yield
    for backup_id in sorted(ids() - before):
        with contextlib.suppress(Exception):
            engine.barman("delete", settings.BACKUP_SERVER_NAME, backup_id, check=False)


@pytest.fixture
def slack():
    """A local receiver that speaks Slack's incoming-webhook protocol: yields its URL and the posts received."""
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/XXXX", received
    server.shutdown()
