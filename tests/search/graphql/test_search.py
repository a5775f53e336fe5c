"""GraphQL search: keyword + filters, keyset pagination, access control, coded errors, audit."""

import json

import pytest

from apps.audit.models import AuditEvent
from apps.core import services
from apps.core.choices import Sensitivity
from tests import factories

pytestmark = pytest.mark.django_db

SEARCH = """query($q: String!, $filters: JSONString, $after: String, $first: Int) {
  search(q: $q, filters: $filters, after: $after, first: $first) {
    hits { id kind score snippet displayName tenant } nextCursor totalEstimate facets { kind count } } }"""


def search(caller, q, filters=None, after=None, first=None, **headers):
    """Run SEARCH as a caller of the gql fixture."""
    variables = {
        "q": q,
        "filters": json.dumps(filters) if filters is not None else None,
        "after": after,
        "first": first,
    }
    return caller.post(SEARCH, variables, **headers)


def error_code(body):
    assert body.errors, body
    return body.error_code


@pytest.fixture
def analyst(tenant_a):
    return factories.user(tenant=tenant_a, role="analyst", clearance=Sensitivity.CONFIDENTIAL, username="sa")


@pytest.fixture
def logged_in(gql, analyst):
    return gql(analyst)


def names(body):
    return [hit["displayName"] for hit in body["data"]["search"]["hits"]]


def test_keyword_match_with_snippet_and_facets(logged_in, tenant_a):
    factories.entity(tenant=tenant_a, name="Zebulon Quartermaine", attributes={"city": "Lisbon"})
    factories.entity(tenant=tenant_a, kind="organization", name="Quartermaine Holdings")
    factories.entity(tenant=tenant_a, name="Somebody Else")
    body = search(logged_in, "quartermaine")
    result = body["data"]["search"]
    assert sorted(names(body)) == ["Quartermaine Holdings", "Zebulon Quartermaine"]
    assert all("<mark>Quartermaine</mark>" in hit["snippet"] for hit in result["hits"])
    assert result["totalEstimate"] == 2
    assert sorted((f["kind"], f["count"]) for f in result["facets"]) == [("organization", 1), ("person", 1)]
    assert result["nextCursor"] is None


def test_other_tenant_and_above_clearance_never_match(logged_in, tenant_a, tenant_b):
    factories.entity(tenant=tenant_b, name="Ophelia Marchbanks")
    factories.entity(tenant=tenant_a, name="Ophelia Secretkeeper", sensitivity=Sensitivity.SECRET)
    factories.entity(tenant=tenant_a, name="Ophelia Visible")
    assert names(search(logged_in, "ophelia")) == ["Ophelia Visible"]


def test_withheld_attribute_words_never_make_a_match(logged_in, tenant_a):
    factories.entity(tenant=tenant_a, name="Plain Person", attributes={"national_id": "NIDX9917", "city": "Porto"})
    assert names(search(logged_in, "NIDX9917")) == []
    assert names(search(logged_in, "porto")) == ["Plain Person"]


def test_filtering_on_a_withheld_attribute_needs_the_right_to_read_it(gql, tenant_a):
    factories.entity(tenant=tenant_a, name="Idris Person", attributes={"national_id": "NIDX1"})
    reader = factories.user(tenant=tenant_a, role="reader", clearance=Sensitivity.SECRET)
    body = search(gql(reader), "idris", {"attributes": {"birth_date": {"gte": "1900-01-01"}}})
    assert error_code(body) == "FORBIDDEN"
    assert "role analyst or higher" in body["errors"][0]["message"]
    cleared = factories.user(tenant=tenant_a, role="analyst", clearance=Sensitivity.SECRET)
    assert error_code(search(gql(cleared), "idris", {"attributes": {"national_id": "NIDX1"}})) == "FORBIDDEN"
    body = search(gql(cleared, purpose="investigation"), "idris", {"attributes": {"national_id": "NIDX1"}})
    assert names(body) == ["Idris Person"]


def test_filters(logged_in, tenant_a):
    source = services.source_get_or_create(tenant=tenant_a, name="leak-2024")
    factories.entity(
        tenant=tenant_a,
        name="Filter Alpha",
        labels=["pep"],
        attributes={"city": "Oslo", "employees": 12},
        sensitivity=Sensitivity.PUBLIC,
        source=source,
    )
    factories.entity(
        tenant=tenant_a, kind="organization", name="Filter Beta", attributes={"city": "Oslo", "employees": 900}
    )
    factories.entity(
        tenant=tenant_a, name="Filter Gamma", attributes={"city": "Bergen"}, sensitivity=Sensitivity.CONFIDENTIAL
    )
    assert names(search(logged_in, "filter", {"kind": "organization"})) == ["Filter Beta"]
    assert names(search(logged_in, "filter", {"labels": ["pep"]})) == ["Filter Alpha"]
    assert sorted(names(search(logged_in, "filter", {"sensitivity": {"lte": "internal"}}))) == [
        "Filter Alpha",
        "Filter Beta",
    ]
    assert names(search(logged_in, "filter", {"attributes": {"city": "Bergen"}})) == ["Filter Gamma"]
    assert names(search(logged_in, "filter", {"attributes": {"employees": {"gte": 100}}})) == ["Filter Beta"]
    assert names(search(logged_in, "filter", {"source": "leak-2024"})) == ["Filter Alpha"]
    assert len(names(search(logged_in, "filter", {"created": {"gte": "2000-01-01"}, "tenant": "alpha"}))) == 3
    assert names(search(logged_in, "filter", {"created": {"lt": "2000-01-01"}})) == []


@pytest.mark.parametrize(
    ("q", "filters", "first", "fragment"),
    [
        ("", None, None, "q: give at least one word"),
        ("x" * 300, None, None, "at most 256"),
        ("&&& !!! ()", None, None, "no searchable words"),
        ("a", None, 0, "first: between 1 and 100"),
        ("a", None, 101, "first: between 1 and 100"),
        ("a", {"colour": "red"}, None, "unknown key 'colour'"),
        ("a", {"kind": "spaceship"}, None, "unknown kind 'spaceship'"),
        ("a", {"created": {"after": "2020-01-01"}}, None, "unknown operator 'after'"),
        ("a", {"created": {"gte": "yesterday"}}, None, "not an ISO date"),
        ("a", {"sensitivity": "cosmic"}, None, "unknown sensitivity"),
        ("a", {"attributes": {"city": ["a", "b"]}}, None, "expected a string, number or boolean"),
        ("a", {"tenant": "bravo"}, None, "not one of your tenants"),
        ("a", [1, 2], None, "filters: expected a JSON object"),
    ],
)
def test_bad_input_is_a_coded_error(logged_in, tenant_a, tenant_b, q, filters, first, fragment):
    body = search(logged_in, q, filters, first=first)
    assert error_code(body) == "BAD_USER_INPUT", body
    assert fragment in body["errors"][0]["message"]


def test_keyset_pagination_is_complete_and_stable_under_inserts(logged_in, tenant_a):
    for i in range(25):
        factories.entity(tenant=tenant_a, name=f"Pager Person {i:02d}", attributes={"n": "pager" * (i % 3 + 1)})
    seen, cursor, pages = [], None, 0
    while pages < 10:
        body = search(logged_in, "pager", after=cursor, first=10)
        result = body["data"]["search"]
        seen += [hit["id"] for hit in result["hits"]]
        scores = [hit["score"] for hit in result["hits"]]
        assert scores == sorted(scores, reverse=True)
        pages += 1
        if pages == 1:  # rows inserted while paging do not shift or repeat what follows
            for i in range(5):
                factories.entity(tenant=tenant_a, name=f"Pager Late {i}")
        cursor = result["nextCursor"]
        if cursor is None:
            break
    assert pages <= 4, seen
    assert len(seen) == len(set(seen))
    from apps.core.models import Entity

    originals = {
        str(pk) for pk in Entity.objects.filter(display_name__startswith="Pager Person").values_list("pk", flat=True)
    }
    assert originals <= set(seen)


def test_cursor_tampering_other_query_and_expiry(logged_in, tenant_a, monkeypatch):
    for i in range(3):
        factories.entity(tenant=tenant_a, name=f"Cursor Person {i}")
    cursor = search(logged_in, "cursor", first=1)["data"]["search"]["nextCursor"]
    body, signature = cursor.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    assert error_code(search(logged_in, "cursor", after=forged, first=1)) == "INVALID_CURSOR"
    assert error_code(search(logged_in, "person", after=cursor, first=1)) == "INVALID_CURSOR"
    assert error_code(search(logged_in, "cursor", after="garbage", first=1)) == "INVALID_CURSOR"
    import time as time_module

    real = time_module.time
    monkeypatch.setattr("intelgraph.cursors.time.time", lambda: real() + 7200)
    assert error_code(search(logged_in, "cursor", after=cursor, first=1)) == "CURSOR_EXPIRED"


def test_search_is_audited_as_a_hash_only(logged_in, tenant_a):
    factories.entity(tenant=tenant_a, name="Audited Person")
    search(logged_in, "audited secret words", {"kind": "person"})
    event = AuditEvent.objects.filter(event_type="search.query").latest("seq")
    assert "audited secret words" not in json.dumps(event.payload)
    import hashlib

    assert event.payload["q_sha256"] == hashlib.sha256(b"audited secret words").hexdigest()
    assert event.payload["filter_keys"] == ["kind"]


def test_snippets_are_escaped_html_with_only_mark_tags(logged_in, tenant_a):
    factories.entity(
        tenant=tenant_a, name="Mallory & Sons <img src=x onerror=alert(1)>", attributes={"note": 'a "quoted" word'}
    )
    snippet = search(logged_in, "mallory")["data"]["search"]["hits"][0]["snippet"]
    assert "<mark>Mallory</mark>" in snippet
    assert "<" not in snippet.replace("<mark>", "").replace("</mark>", "")
    assert "&amp;" in snippet


def test_search_requires_authentication(gql):
    assert error_code(search(gql(), "anything")) == "UNAUTHENTICATED"


def test_query_count_does_not_grow_with_page_size(logged_in, tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(15):
        factories.entity(tenant=tenant_a, name=f"Counted Person {i}")
    search(logged_in, "counted", first=3)  # warm per-process caches
    counts = []
    for first in (3, 15):
        with CaptureQueriesContext(connection) as captured:
            body = search(logged_in, "counted", first=first)
        assert len(body["data"]["search"]["hits"]) == first
        counts.append(len(captured))
    assert counts[0] == counts[1], counts  # no query per hit (the tenant of each hit comes with the page)
