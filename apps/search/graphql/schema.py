import graphene

from apps.access.graphql import subject_from
from apps.search.graphql.types import SearchResultType
from apps.search.selectors import SearchInputError, entity_search
from intelgraph.graphql.errors import ApiError


class Query(graphene.ObjectType):
    search = graphene.Field(
        SearchResultType,
        required=True,
        q=graphene.String(required=True, description='Words to find (web-search syntax: "phrase", or, -not).'),
        filters=graphene.JSONString(
            description=(
                "Optional object: kind, labels, sensitivity, created, updated (ranges with gt/gte/lt/lte), "
                "source, tenant, attributes ({name: value} or {name: {gte, lte}})."
            )
        ),
        after=graphene.String(description="nextCursor of the previous page."),
        first=graphene.Int(description="Page size, 1-100 (default 20)."),
        description="Keyword search over the entities you may see, best matches first, with cursor pagination.",
    )

    @staticmethod
    def resolve_search(root, info, q, filters=None, after=None, first=None):
        subject = subject_from(info)
        try:
            return entity_search(subject=subject, q=q, filters=filters, after=after, first=first)
        except SearchInputError as exc:
            raise ApiError(str(exc), exc.code, **exc.extensions) from None
