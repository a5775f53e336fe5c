import graphene

from apps.access.graphql import subject_from
from apps.finops import services
from apps.finops.errors import FinopsError
from apps.finops.graphql.types import CostGroup, CostReportType, Costs
from intelgraph.graphql.errors import ApiError, ErrorCode

MAX_GROUPS = 5


class Query(graphene.ObjectType):
    costs = graphene.Field(
        CostReportType,
        required=True,
        period=graphene.String(description="The month, YYYY-MM (UTC); default this month."),
        group_by=graphene.List(
            graphene.NonNull(CostGroup), description="What rows are summed over, in this order (default [CATEGORY])."
        ),
        tenant=graphene.String(description="Slug of one of your tenants; needed when you belong to several."),
        description=(
            "What one of your tenants spent in a month, by category, feature, unit, LLM model or day, with this "
            "month's caps. Needs the role analyst or higher in the tenant (the access policy's tenant-read costs)."
        ),
    )

    @staticmethod
    def resolve_costs(root, info, period=None, group_by=None, tenant=None):
        subject = subject_from(info)
        by = tuple(getattr(group, "value", group) for group in ([CostGroup.CATEGORY] if group_by is None else group_by))
        if not 1 <= len(by) <= MAX_GROUPS or len(set(by)) != len(by):
            raise ApiError("groupBy: one to five different groups.", ErrorCode.BAD_USER_INPUT, field="groupBy")
        try:
            slug, report = services.costs_for(subject=subject, tenant=tenant, month=period)
        except FinopsError as exc:
            raise ApiError(str(exc).replace("month:", "period:", 1), exc.code) from None
        return Costs(tenant=slug, report=report, by=by)
