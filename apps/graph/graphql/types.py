import graphene


class GraphNodeType(graphene.ObjectType):
    class Meta:
        name = "GraphNode"
        description = "An entity on a canvas. A masked node is a stub: kind and reason only."

    id = graphene.ID(required=True, description="The entity's id.")
    tenant = graphene.String(required=True, description="Slug of the entity's tenant.")
    kind = graphene.String(required=True, description="Entity kind (person, organization, ...).")
    label = graphene.String(description="Display name; null when masked.")
    masked = graphene.Boolean(required=True, description="True when the policy shows only a stub of this entity.")
    reason = graphene.String(description="Why it is masked (reason code such as CLEARANCE or COMPARTMENT).")
    sensitivity = graphene.Int(description="Sensitivity 0 (public) to 4 (top secret); null when masked.")
    labels = graphene.List(graphene.NonNull(graphene.String), description="Labels; null when masked.")
    hop = graphene.Int(description="Distance from the neighbourhood's seed (0 for the seed); null outside one.")
    merged_into = graphene.ID(description="The entity this one was merged into, if any.")


class GraphEdgeType(graphene.ObjectType):
    class Meta:
        name = "GraphEdge"
        description = "A relationship on a canvas. A masked edge keeps its ends and kind, nothing else."

    id = graphene.ID(required=True, description="The relationship's id.")
    kind = graphene.String(required=True, description="Relationship kind, e.g. works_for.")
    source = graphene.ID(required=True, description="Id of the entity the relationship goes from.")
    target = graphene.ID(required=True, description="Id of the entity the relationship goes to.")
    masked = graphene.Boolean(required=True, description="True when the policy shows only a stub of this edge.")
    reason = graphene.String(description="Why it is masked (reason code).")
    sensitivity = graphene.Int(description="Sensitivity 0-4; null when masked.")


class NeighborhoodType(graphene.ObjectType):
    class Meta:
        name = "Neighborhood"
        description = "One page of an entity's neighbourhood, breadth-first, as the access policy lets you see it."

    seed = graphene.ID(required=True, description="The entity the neighbourhood is around.")
    nodes = graphene.List(graphene.NonNull(GraphNodeType), required=True, description="This page's nodes.")
    edges = graphene.List(
        graphene.NonNull(GraphEdgeType),
        required=True,
        description="Edges whose later end is on this page (each edge comes once over all pages).",
    )
    truncated = graphene.Boolean(
        required=True,
        description="True when this is not the whole neighbourhood: more pages follow, or the expansion budget was reached.",
    )
    budget_exhausted = graphene.Boolean(
        required=True,
        description="True when the server's expansion budget cut the neighbourhood short: filter by kind.",
    )
    degraded = graphene.Boolean(
        required=True, description="True when the graph store was unreachable and PostgreSQL answered instead."
    )
    next_cursor = graphene.String(description="Pass as `after` for the next page; null on the last page.")
    total_nodes = graphene.Int(required=True, description="Nodes found within the budget, over all pages.")
    backend = graphene.String(required=True, description="What answered: falkordb, neo4j or postgres.")


class KindCountType(graphene.ObjectType):
    class Meta:
        name = "KindCount"
        description = "How many neighbours of one kind."

    kind = graphene.String(required=True, description="Edge or node kind.")
    count = graphene.Int(required=True, description="Neighbours of this kind.")


class NeighborhoodPreviewType(graphene.ObjectType):
    class Meta:
        name = "NeighborhoodPreview"
        description = "Counts of an entity's direct neighbours you may see, before expanding."

    total = graphene.Int(required=True, description="Neighbours (one hop) you would see, masked ones included.")
    masked = graphene.Int(required=True, description="Of those, how many would show as masked stubs.")
    by_edge_kind = graphene.List(graphene.NonNull(KindCountType), required=True, description="Per edge kind.")
    by_node_kind = graphene.List(graphene.NonNull(KindCountType), required=True, description="Per node kind.")
    degraded = graphene.Boolean(required=True, description="True when PostgreSQL answered instead of the graph store.")
    backend = graphene.String(required=True, description="What answered: falkordb, neo4j or postgres.")


class GraphKindsType(graphene.ObjectType):
    class Meta:
        name = "GraphKinds"
        description = "Kinds to filter neighbourhoods by."

    edge_kinds = graphene.List(
        graphene.NonNull(graphene.String), required=True, description="Relationship kinds in your tenants."
    )
    node_kinds = graphene.List(graphene.NonNull(graphene.String), required=True, description="Entity kinds.")
