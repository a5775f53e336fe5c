import graphene

from apps.access.graphql import subject_from
from apps.graph import selectors
from apps.graph.graphql.types import GraphKindsType, GraphNodeType, NeighborhoodPreviewType, NeighborhoodType
from intelgraph.graphql.errors import ApiError

KINDS_HELP = "Only these {}; unknown kinds are an error (see graphKinds)."


def _api_error(exc: selectors.GraphInputError) -> ApiError:
    return ApiError(str(exc), exc.code, **exc.extensions)


class Query(graphene.ObjectType):
    neighborhood = graphene.Field(
        NeighborhoodType,
        required=True,
        id=graphene.ID(required=True, description="The seed entity's id."),
        hops=graphene.Int(default_value=1, description="How far to expand: 1, 2 or 3."),
        edge_kinds=graphene.List(
            graphene.NonNull(graphene.String), description=KINDS_HELP.format("relationship kinds")
        ),
        node_kinds=graphene.List(graphene.NonNull(graphene.String), description=KINDS_HELP.format("entity kinds")),
        limit=graphene.Int(description=f"Nodes per page, 1-{selectors.MAX_LIMIT} (default {selectors.DEFAULT_LIMIT})."),
        after=graphene.String(description="nextCursor of the previous page."),
        description=(
            "The entities and relationships around one entity, as the access policy lets you see them: hidden ones "
            "are left out, masked ones come as stubs. Paged and bounded by an expansion budget (truncated says so); "
            "answered by PostgreSQL with degraded=true when the graph store is down."
        ),
    )
    neighborhood_preview = graphene.Field(
        NeighborhoodPreviewType,
        required=True,
        id=graphene.ID(required=True, description="The entity's id."),
        edge_kinds=graphene.List(
            graphene.NonNull(graphene.String), description=KINDS_HELP.format("relationship kinds")
        ),
        node_kinds=graphene.List(graphene.NonNull(graphene.String), description=KINDS_HELP.format("entity kinds")),
        description="Counts of an entity's direct neighbours per edge kind and node kind, to choose before expanding.",
    )
    graph_nodes = graphene.List(
        graphene.NonNull(GraphNodeType),
        required=True,
        ids=graphene.List(graphene.NonNull(graphene.ID), required=True, description="Entity ids (at most 500)."),
        description="Canvas nodes for these entities; ids that do not exist or that you may not see are left out.",
    )
    graph_kinds = graphene.Field(
        GraphKindsType, required=True, description="Relationship kinds in your tenants and the entity kinds."
    )

    @staticmethod
    def resolve_neighborhood(root, info, id, hops=1, edge_kinds=None, node_kinds=None, limit=None, after=None):
        subject = subject_from(info)
        try:
            return selectors.neighborhood(
                subject=subject,
                entity_id=id,
                hops=hops,
                edge_kinds=edge_kinds,
                node_kinds=node_kinds,
                limit=limit,
                after=after,
            )
        except selectors.GraphInputError as exc:
            raise _api_error(exc) from None

    @staticmethod
    def resolve_neighborhood_preview(root, info, id, edge_kinds=None, node_kinds=None):
        subject = subject_from(info)
        try:
            return selectors.neighborhood_preview(
                subject=subject, entity_id=id, edge_kinds=edge_kinds, node_kinds=node_kinds
            )
        except selectors.GraphInputError as exc:
            raise _api_error(exc) from None

    @staticmethod
    def resolve_graph_nodes(root, info, ids):
        subject = subject_from(info)
        try:
            return selectors.graph_nodes(subject=subject, ids=ids)
        except selectors.GraphInputError as exc:
            raise _api_error(exc) from None

    @staticmethod
    def resolve_graph_kinds(root, info):
        edge_kinds, node_kinds = selectors.graph_kinds(subject=subject_from(info))
        return {"edge_kinds": edge_kinds, "node_kinds": node_kinds}
