"""Past the connection pool's capacity the server sheds load with 503 OVERLOADED and Retry-After, never a 500,
and serves again at once: uvicorn with a one-connection pool that waits 20 ms, under 40 concurrent searches."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.core import services
from apps.core.choices import Role, Sensitivity
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENT = 40


def call(url: str, token: str) -> tuple[int, dict, dict]:
    body = json.dumps({"id": "search:v1", "variables": {"q": "Lovelace"}}).encode()
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        url, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback server
            return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(error.read())


def test_pool_exhaustion_is_503_overloaded_and_service_resumes(asgi_server_factory):
    tenant = factories.tenant()
    for n in range(30):
        factories.entity(tenant=tenant, name=f"Ada Lovelace {n}")
    user = factories.user(tenant=tenant, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL)
    token = services.api_token_issue(user=user, name="load")[1]
    server = asgi_server_factory(DATABASE_POOL_MAX="1", DATABASE_POOL_TIMEOUT="0.02")
    url = f"{server.url}/graphql"
    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = list(pool.map(lambda _: call(url, token), range(CONCURRENT)))
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {200, 503}, statuses  # never a 500
    shed = [(headers, body) for status, headers, body in answers if status == 503]
    assert shed, f"no request was shed with one connection for {CONCURRENT} at once: {statuses}"
    for headers, body in shed:
        assert body["errors"][0]["extensions"]["code"] == "OVERLOADED"
        assert headers["retry-after"] == "1"
    # the load gone, the next request is served
    status, _, body = call(url, token)
    assert status == 200 and body["data"]["search"]["hits"], body
