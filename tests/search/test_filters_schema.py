"""The JSON Schema of the filters grammar (graphql/schemas/search-filters.v1.json) and the parser agree.

The jsonschema package is not a dependency, so the verdicts come from a small evaluator of exactly the keywords
the schema uses (a test refuses any other keyword, so the evaluator cannot silently skip one). Its semantics are
JSON Schema's: 2.0 is an integer, true is not a number, patterns are unanchored searches.
"""

import json
import math
import re

import pytest

from apps.core.choices import EntityKind, Sensitivity
from apps.search.graphql.inputs import (
    AttributeFilterInput,
    DateRangeFilterInput,
    SearchFilterInput,
    SensitivityFilterInput,
)
from apps.search.selectors import FILTER_KEYS, RANGE_OPERATORS, SearchInputError, entity_search
from apps.search.views import FILTERS_SCHEMA_PATH
from tests import factories

SCHEMA = json.loads(FILTERS_SCHEMA_PATH.read_text())
ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "examples"}
ASSERTIONS = {
    "$defs", "$ref", "type", "enum", "anyOf", "properties", "additionalProperties", "propertyNames",
    "minProperties", "items", "minItems", "minimum", "maximum", "minLength", "maxLength", "pattern",
}  # fmt: skip
RANGES = ("sensitivityRange", "instantRange", "scalarRange")


def _resolve(ref: str) -> dict:
    assert ref.startswith("#/$defs/"), ref
    return SCHEMA["$defs"][ref.removeprefix("#/$defs/")]


def _is_type(instance, name: str) -> bool:
    number = isinstance(instance, int | float) and not isinstance(instance, bool)
    return {
        "object": isinstance(instance, dict),
        "array": isinstance(instance, list),
        "string": isinstance(instance, str),
        "boolean": isinstance(instance, bool),
        "null": instance is None,
        "number": number,
        "integer": number and float(instance).is_integer(),
    }[name]


def _same_json(a, b) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def valid(instance, schema: dict = SCHEMA) -> bool:
    """Whether the instance is valid against the schema (JSON Schema 2020-12, the keywords above)."""
    if "$ref" in schema and not valid(instance, _resolve(schema["$ref"])):
        return False
    if "type" in schema and not _is_type(instance, schema["type"]):
        return False
    if "enum" in schema and not any(_same_json(instance, option) for option in schema["enum"]):
        return False
    if "anyOf" in schema and not any(valid(instance, option) for option in schema["anyOf"]):
        return False
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        if len(instance) < schema.get("minProperties", 0):
            return False
        others = schema.get("additionalProperties", True)
        for name, value in instance.items():
            if "propertyNames" in schema and not valid(name, schema["propertyNames"]):
                return False
            subschema = properties.get(name, others)
            if subschema is False or (isinstance(subschema, dict) and not valid(value, subschema)):
                return False
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            return False
        if "items" in schema and not all(valid(item, schema["items"]) for item in instance):
            return False
    if _is_type(instance, "number") and not schema.get("minimum", -math.inf) <= instance <= schema.get(
        "maximum", math.inf
    ):
        return False
    if isinstance(instance, str):
        if not schema.get("minLength", 0) <= len(instance) <= schema.get("maxLength", math.inf):
            return False
        if "pattern" in schema and re.search(schema["pattern"], instance) is None:
            return False
    return True


def _keywords(schema, found: set) -> set:
    if isinstance(schema, dict):
        for keyword, value in schema.items():
            found.add(keyword)
            if keyword in ("properties", "$defs"):
                for subschema in value.values():
                    _keywords(subschema, found)
            elif keyword in ("anyOf",):
                for subschema in value:
                    _keywords(subschema, found)
            elif keyword in ("items", "additionalProperties", "propertyNames"):
                _keywords(value, found)
    return found


# --------------------------------------------------------------------------- the schema's own form


def test_the_schema_is_draft_2020_12_with_its_version_in_its_id():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].endswith(":v1")
    assert "search-filters" in SCHEMA["$id"]
    assert FILTERS_SCHEMA_PATH.name == "search-filters.v1.json"


def test_the_evaluator_knows_every_keyword_the_schema_uses():
    assert _keywords(SCHEMA, set()) - ANNOTATIONS - ASSERTIONS == set()


def test_every_ref_resolves_and_every_def_is_used():
    text = json.dumps(SCHEMA)
    refs = set(re.findall(r'"\$ref": "([^"]+)"', text))
    for ref in refs:
        _resolve(ref)
    assert {f"#/$defs/{name}" for name in SCHEMA["$defs"]} == refs


def test_the_schema_examples_are_valid():
    for name, subschema in SCHEMA["properties"].items():
        for example in subschema.get("examples", []):
            assert valid({name: example}), (name, example)


# --------------------------------------------------------------------------- same keys, operators and values


def test_the_schema_has_the_keys_the_parser_accepts_and_no_other():
    assert set(SCHEMA["properties"]) == set(FILTER_KEYS)
    assert SCHEMA["additionalProperties"] is False


def test_every_range_has_the_operators_the_parser_accepts_and_no_other():
    for name in RANGES:
        assert set(SCHEMA["$defs"][name]["properties"]) == set(RANGE_OPERATORS), name
        assert SCHEMA["$defs"][name]["additionalProperties"] is False
        assert SCHEMA["$defs"][name]["minProperties"] == 1


def test_the_schema_has_the_entity_kinds_and_sensitivity_levels_of_the_domain():
    assert SCHEMA["$defs"]["entityKind"]["enum"] == list(EntityKind.values)
    level = SCHEMA["$defs"]["sensitivityLevel"]
    for member in Sensitivity:
        for form in (member.value, str(member.value), member.name.lower(), member.name, member.name.replace("_", " ")):
            assert valid(form, level), form
    assert not valid(5, level) and not valid("5", level) and not valid("cosmic", level)


def test_the_typed_filter_has_the_same_keys_and_operators():
    assert set(SearchFilterInput._meta.fields) == set(FILTER_KEYS)
    for range_input in (DateRangeFilterInput, SensitivityFilterInput, AttributeFilterInput):
        assert set(RANGE_OPERATORS) <= set(range_input._meta.fields), range_input
    assert set(DateRangeFilterInput._meta.fields) == set(RANGE_OPERATORS)
    assert set(SensitivityFilterInput._meta.fields) - set(RANGE_OPERATORS) == {"any_of"}
    assert set(AttributeFilterInput._meta.fields) - set(RANGE_OPERATORS) == {"name", "equals"}


# --------------------------------------------------------------------------- same verdicts

VALID = [
    {},
    {"kind": "person"},
    {"kind": ["person", "organization", "account", "address", "phone", "email", "vehicle", "event"]},
    {"labels": "pep"},
    {"labels": ["pep", "sanctioned"]},
    {"sensitivity": 0},
    {"sensitivity": 4},
    {"sensitivity": "2"},
    {"sensitivity": " 003 "},
    {"sensitivity": "Confidential"},
    {"sensitivity": "TOP-SECRET"},
    {"sensitivity": "top secret"},
    {"sensitivity": "\ttop_secret\n"},
    {"sensitivity": [0, "internal", "SECRET"]},
    {"sensitivity": {"gt": 0}},
    {"sensitivity": {"gte": "internal", "lt": "top secret", "lte": 3}},
    {"created": {"gte": "2026-01-01"}},
    {"created": {"gt": "2026-01-31T10:00", "lt": "2026-01-31T10:00:59"}},
    {"updated": {"lte": "2026-01-31T10:00:00.123456Z"}},
    {"updated": {"gte": "2026-01-31T23:59:59+05:30", "lt": "2026-12-31T00:00-08:00"}},
    {"source": "leak-2024"},
    {"source": ["leak-2024", 2024, True]},
    {"tenant": "alpha"},
    {"tenant": ["alpha", "bravo"]},
    {"attributes": {"city": "Oslo"}},
    {"attributes": {"employees": 100, "ratio": 0.5, "active": False, "empty": ""}},
    {"attributes": {"employees": {"gte": 100, "lt": 1000}, "name": {"gt": "M"}, "flag": {"lte": True}}},
    {"attributes": {"n" * 100: "x" * 200}},
    {"kind": "person", "labels": ["pep"], "sensitivity": {"lte": 2}, "created": {"gte": "2020-01-01"},
     "updated": {"lt": "2030-01-01"}, "source": "leak-2024", "tenant": "alpha", "attributes": {"city": "Oslo"}},
]  # fmt: skip

INVALID = [
    [],
    "kind",
    42,
    {"colour": "red"},
    {"Kind": "person"},
    {"kind": "spaceship"},
    {"kind": "Person"},
    {"kind": []},
    {"kind": ["person", 7]},
    {"kind": {"gte": "person"}},
    {"labels": []},
    {"labels": 5},
    {"labels": ["pep", None]},
    {"labels": {"gte": "a"}},
    {"sensitivity": 5},
    {"sensitivity": -1},
    {"sensitivity": True},
    {"sensitivity": None},
    {"sensitivity": "cosmic"},
    {"sensitivity": "5"},
    {"sensitivity": "top  secret"},
    {"sensitivity": "top.secret"},
    {"sensitivity": []},
    {"sensitivity": [1, "cosmic"]},
    {"sensitivity": {}},
    {"sensitivity": {"after": 1}},
    {"sensitivity": {"gte": 9}},
    {"created": "2026-01-01"},
    {"created": {}},
    {"created": {"after": "2026-01-01"}},
    {"created": {"gte": "yesterday"}},
    {"created": {"gte": 20260101}},
    {"created": {"gte": "2026-13-01"}},
    {"created": {"gte": "2026-01-32"}},
    {"created": {"gte": "2026-01-31T24:00"}},
    {"created": {"gte": "2026-01-31T10:60"}},
    {"created": {"gte": "2026-01-31Z"}},
    {"updated": {"lt": None}},
    {"updated": [{"lt": "2026-01-01"}]},
    {"source": []},
    {"source": None},
    {"source": {"name": "x"}},
    {"source": "s" * 201},
    {"tenant": []},
    {"tenant": "t" * 201},
    {"tenant": 5},
    {"tenant": ["alpha", None]},
    {"attributes": {}},
    {"attributes": "city"},
    {"attributes": ["city"]},
    {"attributes": {"": "x"}},
    {"attributes": {"n" * 101: "x"}},
    {"attributes": {"city": None}},
    {"attributes": {"city": ["Oslo", "Bergen"]}},
    {"attributes": {"city": "x" * 201}},
    {"attributes": {"city": {}}},
    {"attributes": {"city": {"eq": "Oslo"}}},
    {"attributes": {"city": {"gte": None}}},
    {"attributes": {"city": {"gte": ["a"]}}},
]

# Where the two differ, and why; pinned, so that a change on either side shows here.
PARSER_ONLY = [  # the server accepts more than version 1 promises: other ISO 8601 forms Python reads
    {"created": {"gte": "20260131"}},
    {"created": {"gte": "2026-01-31 10:00"}},
    {"created": {"gte": "2026-01-31T10"}},
    {"sensitivity": "\u00a0secret"},  # Unicode spaces beyond ASCII's
    {"sensitivity": "\u0662"},  # digits of other scripts (ARABIC-INDIC DIGIT TWO)
    None,  # the JSON text null: the same as no filters
]
SCHEMA_ONLY = [  # JSON Schema cannot say it: calendar dates, and JSON numbers make 2.0 the integer 2
    {"created": {"gte": "2026-02-30"}},
    {"created": {"gte": "0000-01-01"}},
    {"sensitivity": 2.0},
]


@pytest.fixture
def subject(tenant_a, tenant_b):
    from apps.access import services as access

    user = factories.user(tenant=tenant_a, role="analyst", clearance=Sensitivity.SECRET)
    factories.membership(user=user, tenant=tenant_b, role="analyst", clearance=Sensitivity.SECRET)
    return access.subject_for(user=user)


def parser_accepts(filters, subject) -> bool:
    try:
        entity_search(subject=subject, q="anything", filters=filters)
    except SearchInputError as exc:
        assert exc.code == "BAD_USER_INPUT", exc  # none of the examples is a policy refusal
        return False
    return True


@pytest.mark.django_db
def test_valid_examples_are_valid_for_both(subject):
    for filters in VALID:
        assert valid(filters), filters
        assert parser_accepts(filters, subject), filters


@pytest.mark.django_db
def test_invalid_examples_are_invalid_for_both(subject):
    for filters in INVALID:
        assert not valid(filters), filters
        assert not parser_accepts(filters, subject), filters


@pytest.mark.django_db
def test_the_known_differences_are_still_the_only_ones_known(subject):
    for filters in PARSER_ONLY:
        assert parser_accepts(filters, subject) and not valid(filters), filters
    for filters in SCHEMA_ONLY:
        assert valid(filters) and not parser_accepts(filters, subject), filters


def test_the_examples_cover_every_key_and_every_range():
    assert {key for filters in VALID for key in filters} == set(FILTER_KEYS)
    assert {key for filters in INVALID if isinstance(filters, dict) for key in filters} >= set(FILTER_KEYS)
    used = {
        op
        for filters in VALID
        for key, value in filters.items()
        for condition in (value.values() if key == "attributes" else [value])
        if isinstance(condition, dict)
        for op in condition
    }
    assert used == set(RANGE_OPERATORS)


def test_the_evaluator_can_say_no():
    """The verdicts above mean something only if the evaluator rejects what its keywords reject."""
    assert (
        not valid("x", {"type": "integer"}) and valid(2.0, {"type": "integer"}) and not valid(True, {"type": "number"})
    )
    assert not valid(1, {"enum": [True]}) and not valid({"a": 1}, {"type": "object", "additionalProperties": False})
    assert not valid("ab", {"maxLength": 1}) and not valid("b", {"pattern": "^a"}) and not valid([], {"minItems": 1})
    assert valid("xa", {"pattern": "a"})  # unanchored, as in JSON Schema
