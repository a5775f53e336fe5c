"""GraphQL search's typed filter (filter: SearchFilter): the same filter as the filters JSON, the same results."""

import datetime as dt
import json

import pytest

from apps.audit.models import AuditEvent
from apps.core.choices import Sensitivity
from apps.core.models import Entity
from apps.search.selectors import FILTER_KEYS, RANGE_OPERATORS
from tests import factories

pytestmark = pytest.mark.django_db

RESULT = "hits { id displayName } nextCursor totalEstimate facets { kind count }"
BOTH_FORMS = f"""query($q: String!, $filters: JSONString, $filter: SearchFilter, $after: String, $first: Int) {{
  search(q: $q, filters: $filters, filter: $filter, after: $after, first: $first) {{ {RESULT} }} }}"""


def by_json(caller, filters, q="lattice", **variables):
    return caller.post(BOTH_FORMS, {"q": q, "filters": json.dumps(filters), **variables})


def by_type(caller, filter_, q="lattice", **variables):
    return caller.post(BOTH_FORMS, {"q": q, "filter": filter_, **variables})


def names(body):
    assert not body.errors, body
    return sorted(hit["displayName"] for hit in body["data"]["search"]["hits"])


@pytest.fixture
def analyst(tenant_a, tenant_b):
    user = factories.user(tenant=tenant_a, role="analyst", clearance=Sensitivity.SECRET, username="filter-analyst")
    factories.membership(user=user, tenant=tenant_b, role="analyst", clearance=Sensitivity.SECRET)
    return user


@pytest.fixture
def caller(gql, analyst):
    return gql(analyst)


@pytest.fixture
def lattice(tenant_a, tenant_b):
    """Eight entities that every filter key and operator tells apart, in two of the caller's tenants."""
    leak = factories.source(tenant=tenant_a, name="leak-2024")
    registry = factories.source(tenant=tenant_b, name="registry")
    rows = [
        dict(tenant=tenant_a, name="Lattice Ada", labels=["pep"], sensitivity=Sensitivity.PUBLIC, source=leak,
             attributes={"city": "Oslo", "employees": 12, "active": True}),
        dict(tenant=tenant_a, name="Lattice Bo", kind="organization", sensitivity=Sensitivity.INTERNAL,
             attributes={"city": "Oslo", "employees": 900, "active": False}),
        dict(tenant=tenant_a, name="Lattice Cy", labels=["pep", "sanctioned"], sensitivity=Sensitivity.CONFIDENTIAL,
             attributes={"city": "Bergen", "employees": "many"}),
        dict(tenant=tenant_a, name="Lattice Di", kind="account", sensitivity=Sensitivity.SECRET, source=leak,
             attributes={"city": "Alta", "opened": "2019-05-01"}),
        dict(tenant=tenant_b, name="Lattice Ed", labels=["sanctioned"], source=registry,
             attributes={"city": "Oslo", "employees": 100}),
        dict(tenant=tenant_b, name="Lattice Fi", kind="organization", sensitivity=Sensitivity.PUBLIC,
             attributes={"employees": 99.5, "opened": "2023-11-30"}),
        dict(tenant=tenant_b, name="Lattice Gus", kind="vehicle", labels=["pep"], attributes={"active": True}),
        dict(tenant=tenant_b, name="Lattice Hal", kind="event", sensitivity=Sensitivity.CONFIDENTIAL),
    ]  # fmt: skip
    written = {}
    for index, row in enumerate(rows):
        entity = factories.entity(**row)
        # Spread creation and change over 2025 so that date ranges split the set.
        created = dt.datetime(2025, 1 + index, 10, 12, 0, tzinfo=dt.UTC)
        Entity.objects.filter(pk=entity.pk).update(created_at=created, updated_at=created + dt.timedelta(days=60))
        written[row["name"]] = entity
    return written


# Each filter twice: as the filters JSON and as the typed filter, with different ways of writing it.
SAME_FILTER = [
    ({"kind": "organization"}, {"kind": "organization"}),
    ({"kind": ["organization", "vehicle"]}, {"kind": ["organization", "vehicle"]}),
    ({"labels": "pep"}, {"labels": ["pep"]}),
    ({"labels": ["pep", "sanctioned"]}, {"labels": ["pep", "sanctioned"]}),
    ({"sensitivity": "confidential"}, {"sensitivity": {"anyOf": ["CONFIDENTIAL"]}}),
    ({"sensitivity": [0, "secret"]}, {"sensitivity": {"anyOf": ["PUBLIC", "SECRET"]}}),
    ({"sensitivity": {"gt": 1}}, {"sensitivity": {"gt": "INTERNAL"}}),
    ({"sensitivity": {"gte": "internal", "lt": "Top Secret"}}, {"sensitivity": {"gte": "INTERNAL", "lt": "TOP_SECRET"}}),
    ({"sensitivity": {"lte": "confidential"}}, {"sensitivity": {"lte": "CONFIDENTIAL"}}),
    ({"created": {"gte": "2025-03-01", "lt": "2025-06-01"}}, {"created": {"gte": "2025-03-01", "lt": "2025-06-01"}}),
    ({"created": {"gt": "2025-05-10T12:00:00Z"}}, {"created": {"gt": "2025-05-10T12:00:00Z"}}),
    ({"created": {"lte": "2025-02-10T13:00+01:00"}}, {"created": {"lte": "2025-02-10T13:00+01:00"}}),
    ({"updated": {"gte": "2025-07-01"}}, {"updated": {"gte": "2025-07-01"}}),
    ({"source": "leak-2024"}, {"source": "leak-2024"}),
    ({"source": ["leak-2024", "registry"]}, {"source": ["leak-2024", "registry"]}),
    ({"tenant": "bravo"}, {"tenant": "bravo"}),
    ({"tenant": ["alpha", "bravo"], "kind": "person"}, {"tenant": ["alpha", "bravo"], "kind": ["person"]}),
    ({"attributes": {"city": "Oslo"}}, {"attributes": [{"name": "city", "equals": "Oslo"}]}),
    ({"attributes": {"employees": 100}}, {"attributes": [{"name": "employees", "equals": 100}]}),
    ({"attributes": {"active": True}}, {"attributes": [{"name": "active", "equals": True}]}),
    ({"attributes": {"employees": {"gte": 99.5, "lt": 900}}}, {"attributes": [{"name": "employees", "gte": 99.5, "lt": 900}]}),
    ({"attributes": {"employees": {"gt": 12, "lte": 900}}}, {"attributes": [{"name": "employees", "gt": 12, "lte": 900}]}),
    ({"attributes": {"opened": {"gte": "2020-01-01"}}}, {"attributes": [{"name": "opened", "gte": "2020-01-01"}]}),
    (
        {"attributes": {"city": "Oslo", "employees": {"lt": 500}}, "labels": "pep", "tenant": "alpha"},
        {"attributes": [{"name": "city", "equals": "Oslo"}, {"name": "employees", "lt": 500}], "labels": ["pep"],
         "tenant": ["alpha"]},
    ),
    ({}, {}),
]  # fmt: skip


@pytest.mark.parametrize(("json_filter", "typed_filter"), SAME_FILTER)
def test_the_typed_filter_finds_what_the_same_json_filter_finds(caller, lattice, json_filter, typed_filter):
    by_filters = by_json(caller, json_filter)
    by_filter = by_type(caller, typed_filter)
    assert not by_filters.errors and not by_filter.errors, (by_filters, by_filter)
    assert by_filter["data"] == by_filters["data"]  # same hits in the same order, same total, same facets
    everything = names(by_json(caller, {}))
    assert len(everything) == len(lattice)
    if json_filter:  # each filter keeps some and drops some, so it is tested on what it tells apart
        assert 0 < len(names(by_filter)) < len(everything), names(by_filter)


def test_the_cases_use_every_key_and_every_operator():
    keys = {key for json_filter, _ in SAME_FILTER for key in json_filter}
    assert keys == set(FILTER_KEYS)
    operators = {
        (key, op)
        for json_filter, _ in SAME_FILTER
        for key, value in json_filter.items()
        for condition in ([value] if key != "attributes" else value.values())
        if isinstance(condition, dict)
        for op in condition
    }
    for key in ("sensitivity", "created", "attributes"):
        assert {op for k, op in operators if k == key} == set(RANGE_OPERATORS), key


def test_the_typed_filter_as_a_literal_means_the_same(caller, lattice):
    literal = """{ search(q: "lattice", filter: {kind: "organization", sensitivity: {lte: INTERNAL},
      attributes: [{name: "employees", gte: 100}, {name: "city", equals: "Oslo"}]}) { hits { displayName } } }"""
    assert names(caller.post(literal)) == ["Lattice Bo"]
    expected = {
        "kind": "organization",
        "sensitivity": {"lte": 1},
        "attributes": {"employees": {"gte": 100}, "city": "Oslo"},
    }
    assert names(by_json(caller, expected)) == ["Lattice Bo"]


def test_the_typed_filter_pages_like_the_json_filter(caller, lattice):
    def pages(search):
        ids, cursor = [], None
        for _ in range(5):
            result = search(cursor)["data"]["search"]
            ids += [hit["id"] for hit in result["hits"]]
            cursor = result["nextCursor"]
            if cursor is None:
                return ids
        raise AssertionError("more pages than hits")

    json_filter, typed_filter = {"labels": ["pep"]}, {"labels": ["pep"]}
    typed_pages = pages(lambda after: by_type(caller, typed_filter, first=1, after=after))
    assert typed_pages == pages(lambda after: by_json(caller, json_filter, first=1, after=after))
    assert len(typed_pages) == 3


def test_the_typed_filter_is_audited_like_the_json_filter(caller, lattice):
    by_type(caller, {"kind": "person", "attributes": [{"name": "city", "equals": "Oslo"}]})
    event = AuditEvent.objects.filter(event_type="search.query").latest("seq")
    assert event.payload["filter_keys"] == ["attributes", "kind"]


def test_sending_filter_and_filters_is_a_coded_error(caller, lattice):
    body = caller.post(BOTH_FORMS, {"q": "lattice", "filters": json.dumps({"kind": "person"}), "filter": {}})
    assert body.error_code == "BAD_USER_INPUT"
    assert "filter or filters, not both" in body["errors"][0]["message"]
    assert body.data is None


# Values the grammar refuses, in the typed form: each a BAD_USER_INPUT naming where, under filter.
@pytest.mark.parametrize(
    ("typed_filter", "fragment"),
    [
        ({"kind": ["spaceship"]}, "filter.kind: unknown kind 'spaceship'"),
        ({"kind": []}, "filter.kind: give at least one value"),
        ({"labels": []}, "filter.labels: give at least one value"),
        ({"source": []}, "filter.source: give at least one value"),
        ({"tenant": []}, "filter.tenant: give at least one value"),
        ({"tenant": ["charlie"]}, "filter.tenant: 'charlie' is not one of your tenants"),
        ({"tenant": ["x" * 201]}, "filter.tenant: expected a string, number or boolean (at most 200"),
        ({"sensitivity": {}}, "filter.sensitivity: give anyOf or at least one of gt, gte, lt, lte"),
        ({"sensitivity": {"anyOf": []}}, "filter.sensitivity: give at least one value"),
        ({"sensitivity": {"anyOf": ["SECRET"], "lte": "SECRET"}}, "filter.sensitivity: give anyOf or a range"),
        ({"sensitivity": {"anyOf": None, "gte": None}}, "filter.sensitivity: give anyOf or at least one of"),
        ({"created": {}}, "filter.created: expected an object with gt, gte, lt or lte"),
        ({"created": {"gte": "yesterday"}}, "filter.created.gte: 'yesterday' is not an ISO date"),
        ({"updated": {"lt": "2026-02-30"}}, "filter.updated.lt: '2026-02-30' is not an ISO date"),
        ({"attributes": []}, "filter.attributes: give at least one condition"),
        ({"attributes": [{"name": "city"}]}, "filter.attributes.city: give equals or at least one of"),
        ({"attributes": [{"name": "city", "equals": "Oslo", "gte": "A"}]}, "filter.attributes.city: give equals or a range"),
        ({"attributes": [{"name": "city", "equals": "A"}, {"name": "city", "lt": "B"}]}, "'city' is given twice"),
        ({"attributes": [{"name": "", "equals": "Oslo"}]}, "filter.attributes: attribute names are 1-100 characters"),
        ({"attributes": [{"name": "n" * 101, "equals": 1}]}, "filter.attributes: attribute names are 1-100 characters"),
        ({"attributes": [{"name": "city", "equals": "x" * 201}]}, "filter.attributes.city: expected a string, number"),
        ({"attributes": [{"name": "city", "gte": "x" * 201}]}, "filter.attributes.city.gte: expected a string, number"),
        ({"kind": ["person\x00"]}, "NUL character"),
    ],
)  # fmt: skip
def test_invalid_filter_values_are_coded_bad_user_input(caller, lattice, typed_filter, fragment):
    body = by_type(caller, typed_filter)
    assert body.status != 500
    assert body.error_code == "BAD_USER_INPUT", body
    assert fragment in body["errors"][0]["message"], body["errors"][0]["message"]
    assert not body["errors"][0]["message"].startswith("filters")


def test_a_number_json_cannot_carry_is_bad_user_input_in_both_forms(caller, lattice):
    """Python reads NaN and 1e999 where JSON has none; PostgreSQL's jsonb refuses them: refused first, coded."""
    literal = '{ search(q: "lattice", filter: {attributes: [{name: "employees", gte: 1e999}]}) { hits { id } } }'
    for body in (
        caller.post(literal),
        caller.post(BOTH_FORMS, {"q": "lattice", "filters": '{"attributes": {"employees": NaN}}'}),
        caller.post(BOTH_FORMS, {"q": "lattice", "filters": '{"attributes": {"employees": {"lt": Infinity}}}'}),
    ):
        assert body.status != 500
        assert body.error_code == "BAD_USER_INPUT", body
        assert "give a finite number" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("json_filter", "typed_filter", "code"),
    [
        ({"kind": "spaceship"}, {"kind": "spaceship"}, "BAD_USER_INPUT"),
        ({"tenant": "charlie"}, {"tenant": "charlie"}, "BAD_USER_INPUT"),
        ({"created": {"gte": "soon"}}, {"created": {"gte": "soon"}}, "BAD_USER_INPUT"),
        ({"attributes": {"national_id": "NIDX1"}}, {"attributes": [{"name": "national_id", "equals": "NIDX1"}]}, "FORBIDDEN"),
    ],
)  # fmt: skip
def test_both_forms_refuse_the_same_filter_the_same_way(caller, lattice, json_filter, typed_filter, code):
    by_filters, by_filter = by_json(caller, json_filter), by_type(caller, typed_filter)
    assert by_filters.error_code == by_filter.error_code == code
    assert by_filter["errors"][0]["message"] == by_filters["errors"][0]["message"].replace("filters", "filter", 1)


# What GraphQL's types refuse before the search runs: a coded validation error, as for any argument.
TYPE_ERRORS = [
    ("{colour: \"red\"}", {"colour": "red"}),
    ("{kind: 5}", {"kind": 5}),
    ("{sensitivity: {anyOf: [COSMIC]}}", {"sensitivity": {"anyOf": ["COSMIC"]}}),
    ("{sensitivity: {gte: 2}}", {"sensitivity": {"gte": 2}}),
    ("{created: {gte: 20260101}}", {"created": {"gte": 20260101}}),
    ("{attributes: [{equals: \"Oslo\"}]}", {"attributes": [{"equals": "Oslo"}]}),
    ("{attributes: [{name: \"city\", equals: {a: 1}}]}", {"attributes": [{"name": "city", "equals": {"a": 1}}]}),
    ("{attributes: [{name: \"city\", gte: [1, 2]}]}", {"attributes": [{"name": "city", "gte": [1, 2]}]}),
]  # fmt: skip


@pytest.mark.parametrize(("literal", "variable"), TYPE_ERRORS)
def test_wrongly_typed_filters_are_coded_validation_errors_never_500(caller, lattice, literal, variable):
    # written in the document: the document is invalid; sent as a variable: the input is (as Apollo Server says)
    for body, code in (
        (
            caller.post(f'{{ search(q: "lattice", filter: {literal}) {{ hits {{ id }} }} }}'),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (by_type(caller, variable), "BAD_USER_INPUT"),
    ):
        assert body.status == 400, body
        assert body.error_code == code, body
        assert body.data is None
