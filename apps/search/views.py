"""What search publishes for integrators beside the GraphQL schema: the JSON Schema of the filters grammar."""

from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from intelgraph.graphql.errors import API_VERSION

FILTERS_SCHEMA_PATH = settings.BASE_DIR / "graphql" / "schemas" / "search-filters.v1.json"
JSON_SCHEMA_CONTENT_TYPE = "application/schema+json"


@lru_cache(maxsize=1)
def _filters_schema() -> bytes:
    return FILTERS_SCHEMA_PATH.read_bytes()


@require_GET
def search_filters_schema(request):
    """The JSON Schema (draft 2020-12) of Query.search's filters argument, version 1, at a stable URL."""
    response = HttpResponse(_filters_schema(), content_type=JSON_SCHEMA_CONTENT_TYPE)
    response["Cache-Control"] = "public, max-age=300"
    response["x-ig-api-version"] = API_VERSION
    return response
