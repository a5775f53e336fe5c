"""The JSON Schema of search's filters grammar, published at a stable URL beside the SDL."""

import json
from pathlib import Path

import pytest
from django.test import Client

from apps.search.views import FILTERS_SCHEMA_PATH
from intelgraph.schema import schema

URL = "/graphql/schemas/search-filters.v1.json"


@pytest.mark.django_db
def test_the_filters_schema_is_served_as_json_schema_to_anyone():
    response = Client().get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    assert response["Cache-Control"] == "public, max-age=300"
    assert response.content == FILTERS_SCHEMA_PATH.read_bytes()
    served = json.loads(response.content)
    assert served["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert served["$id"].endswith(":v1")


@pytest.mark.django_db
def test_the_filters_schema_is_read_only():
    assert Client().post(URL, data="{}", content_type="application/json").status_code == 405


def test_the_search_argument_and_the_docs_point_to_it():
    search = schema.graphql_schema.query_type.fields["search"]
    assert URL in search.args["filters"].description
    assert "filter is the typed form" in search.args["filters"].description
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api" / "search.md").read_text()
    assert URL in docs and "SearchFilter" in docs
