import datetime
from dataclasses import dataclass

import graphene
from django.conf import settings

from apps.finops import services
from apps.finops.choices import Category


@dataclass(frozen=True)
class Costs:
    """What the costs query answers with: the tenant, its report and the columns asked to group by."""

    tenant: str
    report: services.CostReport
    by: tuple[str, ...]


class CostGroup(graphene.Enum):
    class Meta:
        name = "CostGroup"
        description = "What cost rows are summed over."

    CATEGORY = "category"
    FEATURE = "feature"
    UNIT = "unit"
    MODEL = "model"
    DAY = "day"

    @property
    def description(self):
        return {
            "category": "llm, compute or storage.",
            "feature": "What was metered: search, graph, er_batch, er_online, export, storage_*, llm.",
            "unit": "What it was counted in: request, db_second, cpu_second, pair, gb_day, input_token, ...",
            "model": "The LLM model (empty for other features).",
            "day": "The UTC day of use.",
        }[self.value]


class CostRowType(graphene.ObjectType):
    class Meta:
        name = "CostRow"
        description = "Spend summed over the groupBy fields; the fields not grouped by are null."

    category = graphene.String(description="llm, compute or storage.")
    feature = graphene.String(description="The metered feature.")
    unit = graphene.String(description="The unit it is counted in.")
    model = graphene.String(description="The LLM model ('' for other features).")
    day = graphene.String(description="The UTC day, YYYY-MM-DD.")
    quantity = graphene.Float(description="Units used; null when the row sums different units.")
    cost = graphene.String(required=True, description="What it cost, a decimal in the report's currency.")

    @staticmethod
    def resolve_day(row, info):
        return row["day"].isoformat() if row.get("day") else None

    @staticmethod
    def resolve_quantity(row, info):
        return None if row["quantity"] is None else float(row["quantity"])

    @staticmethod
    def resolve_cost(row, info):
        return _decimal(row["cost"])


class CostCapType(graphene.ObjectType):
    class Meta:
        name = "CostCap"
        description = "One cap of the tenant's budget this month, with what was spent against it."

    scope = graphene.String(required=True, description="total, llm, compute or storage.")
    spent = graphene.String(required=True, description="Spent this month, a decimal.")
    cap = graphene.String(description="The cap with active raises, a decimal; null: no cap.")
    percent = graphene.Float(description="Spent as a percentage of the cap; null without a cap.")
    at_cap = graphene.String(required=True, description="What happens at 100%: block or alert.")
    forecast = graphene.String(required=True, description="Month-end spend at this month's burn rate, a decimal.")

    # root: apps.finops.services.ScopeStatus
    @staticmethod
    def resolve_spent(item, info):
        return _decimal(item.spent)

    @staticmethod
    def resolve_cap(item, info):
        return None if item.cap is None else _decimal(item.cap)

    @staticmethod
    def resolve_percent(item, info):
        return None if item.percent is None else round(item.percent, 2)

    @staticmethod
    def resolve_at_cap(item, info):
        return item.action

    @staticmethod
    def resolve_forecast(item, info):
        return _decimal(item.forecast)


class CostReportType(graphene.ObjectType):
    class Meta:
        name = "CostReport"
        description = (
            "What one of your tenants spent in a month: metered usage priced at the rate in force on each day of use."
        )

    tenant = graphene.String(required=True, description="The tenant's slug.")
    period = graphene.String(required=True, description="The month, YYYY-MM (UTC).")
    start = graphene.String(required=True, description="Its first day, YYYY-MM-DD.")
    end = graphene.String(required=True, description="Its last day, YYYY-MM-DD.")
    currency = graphene.String(required=True, description="The currency of every amount, e.g. USD.")
    total = graphene.String(required=True, description="Everything spent in the month, a decimal.")
    by_category = graphene.List(
        graphene.NonNull(CostRowType), required=True, description="llm, compute and storage, each with its cost."
    )
    rows = graphene.List(
        graphene.NonNull(CostRowType), required=True, description="Spend summed over groupBy, largest first."
    )
    caps = graphene.List(
        graphene.NonNull(CostCapType),
        required=True,
        description="This month's caps and spend against them; empty for another month or without a budget.",
    )
    unpriced = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="feature/unit/model used with no rate on the rate card: counted, costing nothing.",
    )
    live = graphene.Boolean(
        required=True,
        description="False when Redis could not be read: usage not yet folded (the last half minute or so) is missing.",
    )

    # root: Costs
    @staticmethod
    def resolve_tenant(root, info):
        return root.tenant

    @staticmethod
    def resolve_period(root, info):
        return f"{root.report.start:%Y-%m}"

    @staticmethod
    def resolve_start(root, info):
        return root.report.start.isoformat()

    @staticmethod
    def resolve_end(root, info):
        return (root.report.end - datetime.timedelta(days=1)).isoformat()

    @staticmethod
    def resolve_currency(root, info):
        return settings.FINOPS_CURRENCY

    @staticmethod
    def resolve_total(root, info):
        return _decimal(root.report.spend.total())

    @staticmethod
    def resolve_by_category(root, info):
        spend = root.report.spend
        return [{"category": value, "quantity": None, "cost": spend.total(value)} for value in Category.values]

    @staticmethod
    def resolve_rows(root, info):
        return root.report.rows(root.by)

    @staticmethod
    def resolve_caps(root, info):
        report = root.report
        if not report.current or report.status.budget is None:
            return []
        return [item for item in report.status.scopes.values() if item.cap is not None]

    @staticmethod
    def resolve_unpriced(root, info):
        return sorted("/".join(part for part in item if part) for item in root.report.spend.unpriced())

    @staticmethod
    def resolve_live(root, info):
        return root.report.live_counters


def _decimal(value) -> str:
    """Money as an exact decimal string, six places (an LLM call costs fractions of a cent)."""
    return f"{value:.6f}"
