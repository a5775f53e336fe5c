"""The clients integrators use, unchanged, against the product served as `make run` serves it, in production's
persisted-only mode: Apollo Client 4 and 3 (Node, pinned in tools/clients) with HttpLink by POST and GET, with
the persisted-queries link by POST and GET, and with ids from the server's manifest; the Python gql client;
curl. Every safelisted operation runs through each, and refusals reach each client with their code."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError, TransportServerError
from gql.transport.requests import RequestsHTTPTransport
from graphql import print_ast

from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.graph.services import outbox_drain
from apps.versioning import safelist
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True)]

CLIENTS = Path(__file__).resolve().parents[2] / "tools" / "clients"
APOLLO = {4: CLIENTS / "apollo4.mjs", 3: CLIENTS / "apollo3" / "apollo3.mjs"}
MODES = {
    # mode: (HTTP method of each request, whether the query text is sent, whether only a hash is sent)
    "http": ("POST", True, False),
    "http-get": ("GET", True, False),
    "apq": ("POST", False, True),
    "apq-get": ("GET", False, True),
    "manifest": ("POST", False, True),  # @apollo/persisted-query-lists on the server's manifest
}


def needs(path: Path):
    if not path.exists():
        message = f"{path} is missing: run `make clients`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def world():
    tenant = services.tenant_create(slug="wire", name="Wire Bank", feature_flags={"explorer": True})
    ada = factories.entity(tenant=tenant, name="Ada Lovelace", attributes={"given_name": "Ada"})
    engines = factories.entity(tenant=tenant, kind="organization", name="Analytical Engines Ltd")
    services.relationship_create(tenant=tenant, kind="works_for", from_entity=ada, to_entity=engines)
    user = factories.user(tenant=tenant, username="wire-app", role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL)
    token = services.api_token_issue(user=user, name="integration")[1]
    outbox_drain()  # the server under test runs no worker: project the graph now
    variables = {
        "search:v1": {"q": "Lovelace"},
        "search:v2": {"q": "Lovelace", "filter": {"kind": ["person"]}},
        "explorer-search:v1": {"q": "Lovelace"},
        "entity:v1": {"id": str(ada.pk)},
        "entity-detail:v1": {"id": str(ada.pk)},
        "neighborhood:v1": {"id": str(ada.pk), "hops": 2},
        "neighborhood-preview:v1": {"id": str(ada.pk)},
        "graph-nodes:v1": {"ids": [str(ada.pk), str(engines.pk)]},
        "graph-kinds:v1": {},
        "costs:v1": {"groupBy": ["FEATURE", "MODEL"]},
    }
    assert set(variables) == {op.id for op in safelist.operations()}, "a new safelisted operation: add its variables"
    return {"token": token, "variables": variables, "ada": ada}


@pytest.fixture
def server(asgi_server_factory):
    return asgi_server_factory(GRAPHQL_REQUIRE_PERSISTED="true")


def apollo(version: int, server, *, mode: str, operations: list[dict], token: str | None) -> list[dict]:
    needs(APOLLO[version])
    spec = {"url": f"{server.url}/graphql", "token": token, "mode": mode, "operations": operations}
    done = subprocess.run(
        [shutil.which("node") or "node", str(APOLLO[version])],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["apollo"].startswith(f"{version}."), output["apollo"]
    return output["results"]


def safelisted(world) -> list[dict]:
    """Each safelisted operation as an integrator's app holds it: the document file, unchanged."""
    return [
        {"name": op.id, "document": op.document, "variables": world["variables"][op.id]} for op in safelist.operations()
    ]


@pytest.mark.parametrize("version", [4, 3])
def test_apollo_client_runs_every_safelisted_operation_in_every_mode(server, world, version):
    for mode, (method, sends_query, hash_only) in MODES.items():
        results = apollo(version, server, mode=mode, operations=safelisted(world), token=world["token"])
        for result in results:
            label = f"Apollo {version}, {mode}, {result['name']}"
            assert "error" not in result, f"{label}: {result.get('error')}"
            assert not result["errors"] and result["data"], label
            first = result["wire"][0]
            assert (first["method"], first["sentQuery"], first["sentHash"]) == (method, sends_query, hash_only), (
                f"{label}: {first}"
            )
            # found by its hash at once: no PersistedQueryNotFound round trip
            assert len(result["wire"]) == 1, f"{label}: {result['wire']}"
        answers = {r["name"]: r["data"] for r in results}
        hits = answers["search:v1"]["search"]["hits"]
        assert [hit["displayName"] for hit in hits] == ["Ada Lovelace"]
        assert [hit["displayName"] for hit in answers["search:v2"]["search"]["hits"]] == ["Ada Lovelace"]
        assert hits[0]["__typename"] == "SearchHit"  # the cache gets the type names it asked for
        assert str(world["ada"].pk) in {node["id"] for node in answers["neighborhood:v1"]["neighborhood"]["nodes"]}


@pytest.mark.parametrize("version", [4, 3])
def test_apollo_client_reads_the_code_of_a_refusal(server, world, version):
    ad_hoc = [{"name": "ad-hoc", "document": 'query AdHoc { search(q: "Ada") { hits { id } } }', "variables": {}}]
    [refused] = apollo(version, server, mode="http", operations=ad_hoc, token=world["token"])
    assert refused["error"]["codes"] == ["PERSISTED_QUERY_REQUIRED"], refused
    [anonymous] = apollo(version, server, mode="apq", operations=safelisted(world)[:1], token=None)
    assert anonymous["error"]["codes"] == ["UNAUTHENTICATED"], anonymous
    if version == 4:
        # GraphQL over HTTP's media type: Apollo Client 4 reads the errors instead of an opaque ServerError
        assert refused["error"]["name"] == "CombinedGraphQLErrors", refused
        assert refused["wire"][0]["contentType"].startswith("application/graphql-response+json")
    # public reads need no token, persisted or not
    public = [{"name": "version", "document": "query Version { apiVersion }", "variables": {}}]
    [answer] = apollo(version, server, mode="http-get", operations=public, token=None)
    assert answer["data"] == {"apiVersion": "v1", "__typename": "Query"} or answer["data"] == {"apiVersion": "v1"}


def gql_client(server, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = RequestsHTTPTransport(url=f"{server.url}/graphql", headers=headers, timeout=30, retries=0)
    return Client(transport=transport)


def test_gql_runs_every_safelisted_operation_plain_and_in_its_persisted_form(server, world):
    client = gql_client(server, world["token"])
    with client as session:
        for operation in safelist.operations():
            document = gql(operation.document)
            variables = world["variables"][operation.id]
            assert session.execute(document, variable_values=variables), operation.id
            # the persisted-query form: the printed query with its SHA-256 in extensions.persistedQuery
            printed = print_ast(document)
            payload = {
                "query": printed,
                "variables": variables,
                "extensions": {
                    "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(printed.encode()).hexdigest()}
                },
            }
            assert session.execute(document, variable_values=variables, extra_args={"json": payload}), operation.id
        with pytest.raises(TransportQueryError) as refused:
            session.execute(gql('query AdHoc { search(q: "Ada") { hits { id } } }'))
        assert refused.value.errors[0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"


def test_gql_batches_are_refused(server, world):
    from gql.graphql_request import GraphQLRequest

    transport = RequestsHTTPTransport(
        url=f"{server.url}/graphql", headers={"Authorization": f"Bearer {world['token']}"}, timeout=30
    )
    with Client(transport=transport) as session:
        requests = [
            GraphQLRequest(document=gql("query A { apiVersion }")),
            GraphQLRequest(document=gql("query B { apiVersion }")),
        ]
        with pytest.raises(TransportServerError) as refused:
            session.execute_batch(requests)
    assert refused.value.code == 400


def curl(*args: str) -> tuple[int, dict, dict]:
    binary = shutil.which("curl")
    if binary is None:
        pytest.skip("no curl on this machine")
    done = subprocess.run([binary, "-sS", "-D", "-", *args], capture_output=True, text=True, timeout=60, check=True)
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    while head.startswith("HTTP/1.1 100"):
        head, _, body = body.partition("\n\n")
    status = int(head.split()[1])
    headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in head.splitlines()[1:]}
    return status, headers, json.loads(body)


def test_curl_by_id_post_and_get_and_public_read(server, world):
    url = f"{server.url}/graphql"
    auth = f"Authorization: Bearer {world['token']}"
    body = json.dumps({"id": "search:v1", "variables": {"q": "Lovelace"}})
    status, headers, answer = curl(url, "-H", auth, "-H", "content-type: application/json", "-d", body)
    assert status == 200 and answer["data"]["search"]["hits"][0]["displayName"] == "Ada Lovelace"
    status, headers, answer = curl(
        "-G", url, "-H", auth, "--data-urlencode", "id=search:v1", "--data-urlencode", 'variables={"q":"Lovelace"}'
    )
    assert status == 200 and answer["data"]["search"]["hits"][0]["displayName"] == "Ada Lovelace"
    assert headers["cache-control"] == "no-store"
    status, headers, answer = curl("-G", url, "--data-urlencode", "query={ apiVersion }")
    assert status == 200 and answer == {"data": {"apiVersion": "v1"}}
    assert headers["cache-control"] == "public, max-age=300" and "set-cookie" not in headers
