"""The root GraphQL schema: each app contributes its Query (and later Mutation) class."""

import graphene

from apps.core.graphql.schema import Query as CoreQuery
from apps.finops.graphql.schema import Query as FinopsQuery
from apps.graph.graphql.schema import Query as GraphQuery
from apps.search.graphql.schema import Query as SearchQuery
from intelgraph.graphql.errors import API_VERSION


class Query(CoreQuery, SearchQuery, GraphQuery, FinopsQuery, graphene.ObjectType):
    """IntelGraph API v1: search and read your tenants' entities, explore their graph, read what they spent."""

    api_version = graphene.String(
        required=True, description="The API version this server speaks; also sent as the x-ig-api-version header."
    )

    @staticmethod
    def resolve_api_version(root, info):
        return API_VERSION


schema = graphene.Schema(query=Query)
