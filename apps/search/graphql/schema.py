import graphene

from apps.access.graphql import subject_from
from apps.core.graphql.scalars import JSONString
from apps.search.graphql.inputs import SearchFilterInput, typed_message
from apps.search.graphql.types import SearchResultType
from apps.search.selectors import SearchInputError, entity_search
from intelgraph.graphql.errors import ApiError

FILTERS_SCHEMA_URL = "/graphql/schemas/search-filters.v1.json"


class Query(graphene.ObjectType):
    search = graphene.Field(
        SearchResultType,
        required=True,
        q=graphene.String(required=True, description='Words to find (web-search syntax: "phrase", or, -not).'),
        filters=JSONString(
            description=(
                "Optional object: kind, labels, sensitivity, created, updated (ranges with gt/gte/lt/lte), "
                "source, tenant, attributes ({name: value} or {name: {gte, lte}}). Its grammar is the JSON Schema "
                f"at {FILTERS_SCHEMA_URL} (docs/api/search.md); filter is the typed form of the same filter. "
                "Send filter or filters, not both."
            )
        ),
        filter_=graphene.Argument(
            SearchFilterInput,
            name="filter",
            description=(
                "The typed form of filters: the same filter, with the same meaning and results. Send filter or "
                "filters, not both."
            ),
        ),
        after=graphene.String(description="nextCursor of the previous page."),
        first=graphene.Int(description="Page size, 1-100 (default 20)."),
        description="Keyword search over the entities you may see, best matches first, with cursor pagination.",
    )

    @staticmethod
    def resolve_search(root, info, q, filters=None, filter_=None, after=None, first=None):
        subject = subject_from(info)
        typed = filter_ is not None
        try:
            if typed and filters is not None:
                raise SearchInputError("Send filter or filters, not both: they are two forms of one filter.")
            return entity_search(
                subject=subject,
                q=q,
                filters=filter_.as_filters() if typed else filters,
                after=after,
                first=first,
            )
        except SearchInputError as exc:
            message = typed_message(str(exc)) if typed else str(exc)
            raise ApiError(message, exc.code, **exc.extensions) from None
