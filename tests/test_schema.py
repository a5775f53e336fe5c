"""The committed schema.graphql is what the server serves: a change to the API shows up in review."""

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLScalarType, is_introspection_type, is_specified_scalar_type, print_schema

from intelgraph.schema import schema

COMMITTED = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_has_not_drifted():
    served = print_schema(schema.graphql_schema).strip()
    assert COMMITTED.read_text().strip() == served, (
        "schema.graphql is out of date: run `.venv/bin/python manage.py graphql_schema "
        "--schema intelgraph.schema.schema --out schema.graphql` and review the diff (breaking changes are "
        "checked against the release in graphql/releases/ by `manage.py schema_check`, not against this file)"
    )


def test_every_field_and_type_is_described():
    missing = []
    for name, graphql_type in schema.graphql_schema.type_map.items():
        if name.startswith("__") or name in {"String", "Boolean", "ID", "Int", "Float"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert missing == []


def _own_types():
    for name, graphql_type in schema.graphql_schema.type_map.items():
        if not is_introspection_type(graphql_type) and not is_specified_scalar_type(graphql_type):
            yield name, graphql_type


def test_every_argument_is_described():
    missing = [
        f"{name}.{field_name}({arg_name})"
        for name, graphql_type in _own_types()
        for field_name, field in getattr(graphql_type, "fields", {}).items()
        for arg_name, argument in getattr(field, "args", {}).items()
        if not argument.description
    ]
    assert missing == []


def test_every_enum_value_is_described():
    missing = [
        f"{name}.{value_name}"
        for name, graphql_type in _own_types()
        if isinstance(graphql_type, GraphQLEnumType)
        for value_name, value in graphql_type.values.items()
        if not (value.description or "").strip()
    ]
    assert missing == []


def test_every_custom_scalar_is_ours_and_says_its_wire_format():
    """graphene's own JSONString and DateTime describe themselves generically (or advise against their use):
    the schema uses apps.core.graphql.scalars, whose descriptions say what goes over the wire."""
    scalars = {name: t for name, t in _own_types() if isinstance(t, GraphQLScalarType)}
    assert {"JSONString", "DateTime"} <= set(scalars)
    problems = []
    for name, scalar in scalars.items():
        graphene_type = getattr(scalar, "graphene_type", None)
        if graphene_type is None or not graphene_type.__module__.startswith(("apps.", "intelgraph.")):
            problems.append(f"{name}: graphene's own class; use or add one in apps/core/graphql/scalars.py")
        elif len((scalar.description or "").strip()) < 40:
            problems.append(f"{name}: describe its wire format")
    assert problems == []
