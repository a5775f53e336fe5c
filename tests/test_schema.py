"""The committed schema.graphql is what the server serves: a change to the API shows up in review."""

from pathlib import Path

from graphql import print_schema

from intelgraph.schema import schema

COMMITTED = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_has_not_drifted():
    served = print_schema(schema.graphql_schema).strip()
    assert COMMITTED.read_text().strip() == served, (
        "schema.graphql is out of date: run `.venv/bin/python manage.py graphql_schema "
        "--schema intelgraph.schema.schema --out schema.graphql` and review the diff"
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
