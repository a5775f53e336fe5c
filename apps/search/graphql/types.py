import graphene


class SearchHitType(graphene.ObjectType):
    class Meta:
        name = "SearchHit"
        description = "One matching entity, best first."

    id = graphene.ID(required=True, description="The entity's id.")
    kind = graphene.String(required=True, description="The entity's kind.")
    score = graphene.Float(description="Relevance (ts_rank); higher is better. Comparable within one search only.")
    snippet = graphene.String(
        description="Matching words in context, HTML-escaped, matches wrapped in <mark>; never from a withheld attribute."
    )
    display_name = graphene.String(
        required=True,
        description="The entity's name; a part built from an attribute withheld from you reads [withheld].",
    )
    tenant = graphene.String(required=True, description="Slug of the entity's tenant.")

    # root: apps.search.selectors.Hit
    @staticmethod
    def resolve_id(hit, info):
        return hit.entity.pk

    @staticmethod
    def resolve_kind(hit, info):
        return hit.entity.kind

    @staticmethod
    def resolve_display_name(hit, info):
        return hit.display_name

    @staticmethod
    def resolve_tenant(hit, info):
        return hit.entity.tenant.slug


class KindFacetType(graphene.ObjectType):
    class Meta:
        name = "KindFacet"
        description = "How many matches are of one kind."

    kind = graphene.String(required=True, description="Entity kind.")
    count = graphene.Int(required=True, description="Matches of this kind.")


class SearchResultType(graphene.ObjectType):
    class Meta:
        name = "SearchResult"
        description = "A page of search hits and the cursor for the next page."

    hits = graphene.List(graphene.NonNull(SearchHitType), required=True, description="This page's hits, best first.")
    next_cursor = graphene.String(description="Pass as `after` for the next page; null on the last page.")
    total_estimate = graphene.Int(description="Number of matches, exact up to 1,000.")
    total_capped = graphene.Boolean(description="True when there are more matches than totalEstimate says.")
    facets = graphene.List(
        graphene.NonNull(KindFacetType), required=True, description="Matches by kind (computed only when asked)."
    )

    @staticmethod
    def resolve_hits(result, info):
        return result.hits

    @staticmethod
    def resolve_next_cursor(result, info):
        return result.next_cursor

    @staticmethod
    def resolve_total_estimate(result, info):
        return result.total_estimate()[0]

    @staticmethod
    def resolve_total_capped(result, info):
        return result.total_estimate()[1]

    @staticmethod
    def resolve_facets(result, info):
        return [{"kind": kind, "count": n} for kind, n in result.facets()]
