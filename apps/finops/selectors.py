"""Reading spend: usage times the rate in force on the day of use, per tenant, grouped as the caller asks."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from apps.finops.choices import CATEGORY_OF, Category

GROUPS = ("category", "feature", "model", "day", "unit")

# The rate in force for a usage row: the model's own rate before the feature's general one, the latest that
# started on or before the day of use. ``{row}`` is the alias of the row it is joined to.
_RATE_IN_FORCE = """
LEFT JOIN LATERAL (
    SELECT price, per FROM finops_rate r
    WHERE r.feature = {row}.feature AND r.unit = {row}.unit AND (r.model = {row}.model OR r.model = '')
      AND r.effective_from <= {row}.day
    ORDER BY (r.model = {row}.model) DESC, r.effective_from DESC
    LIMIT 1
) r ON true
"""
_COSTS = (
    "SELECT u.tenant_id, u.day, u.feature, u.unit, u.model, u.quantity, u.estimated, r.price, r.per "
    "FROM finops_usagedaily u"
    + _RATE_IN_FORCE.format(row="u")
    + "WHERE u.tenant_id = ANY(%s) AND u.day >= %s AND u.day < %s"
)
# The rates of counts not folded yet (Redis), all of them in one query.
_RATES_OF = (
    "SELECT v.feature, v.unit, v.model, v.day, r.price, r.per "
    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::date[]) AS v(feature, unit, model, day)"
    + _RATE_IN_FORCE.format(row="v")
)


def period_bounds(moment: datetime.datetime | datetime.date) -> tuple[datetime.date, datetime.date]:
    """The calendar month (UTC) holding ``moment``: [first day, first day of the next month)."""
    day = moment.astimezone(datetime.UTC).date() if isinstance(moment, datetime.datetime) else moment
    start = day.replace(day=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + datetime.timedelta(days=days)


@dataclass
class CostLine:
    day: datetime.date
    feature: str
    unit: str
    model: str
    quantity: Decimal
    estimated: Decimal
    cost: Decimal
    priced: bool  # False: no rate covers it (counted, costs nothing; the rate card has a gap)

    @property
    def category(self) -> str:
        return CATEGORY_OF[self.feature]


@dataclass
class Spend:
    start: datetime.date
    end: datetime.date
    lines: list[CostLine] = field(default_factory=list)

    def total(self, category: str | None = None) -> Decimal:
        return sum((line.cost for line in self.lines if category in (None, line.category)), Decimal(0))

    def by_category(self) -> dict[str, Decimal]:
        return {value: self.total(value) for value in Category.values}

    def unpriced(self) -> set[tuple[str, str, str]]:
        return {(line.feature, line.unit, line.model) for line in self.lines if not line.priced and line.quantity}


def price(quantity: Decimal, price: Decimal | None, per: int | None) -> Decimal:
    if price is None or not per:
        return Decimal(0)
    return quantity * price / Decimal(per)


def spend_many(
    *, tenant_ids, start: datetime.date, end: datetime.date, unfolded: dict[int, dict] | None = None
) -> dict[int, Spend]:
    """The spend of each tenant on the days [start, end): folded usage, plus the ``unfolded`` Redis counts given
    (``metering.unfolded_many``), each priced at the rate in force on its day; two queries however many tenants
    (folded usage, then the rates of the unfolded counts)."""
    tenant_ids = list(tenant_ids)
    result = {tenant_id: Spend(start=start, end=end) for tenant_id in tenant_ids}
    with connection.cursor() as cursor:
        cursor.execute(_COSTS, [tenant_ids, start, end])
        rows = cursor.fetchall()
    for tenant_id, day, feature, unit, model, quantity, estimated, rate_price, per in rows:
        result[tenant_id].lines.append(
            CostLine(
                day, feature, unit, model, quantity, estimated, price(quantity, rate_price, per), rate_price is not None
            )
        )
    pending = [
        (tenant_id, slot, quantity)
        for tenant_id, slots in (unfolded or {}).items()
        if tenant_id in result
        for slot, quantity in slots.items()
        if start <= slot[0] < end
    ]
    if pending:
        rates = _rates_of({(feature, unit, model, day) for _, (day, feature, unit, model), _ in pending})
        for tenant_id, (day, feature, unit, model), quantity in pending:
            rate_price, per = rates.get((feature, unit, model, day), (None, None))
            cost = price(quantity, rate_price, per)
            line = CostLine(day, feature, unit, model, quantity, Decimal(0), cost, rate_price is not None)
            result[tenant_id].lines.append(line)
    return result


def rate_on(*, feature: str, unit: str, model: str, day: datetime.date) -> tuple[Decimal, int] | None:
    """The (price, per) in force for this usage on ``day``, or None: the rate card has no rate for it."""
    found = _rates_of({(feature, unit, model, day)})[(feature, unit, model, day)]
    return None if found[0] is None else found


def _rates_of(keys) -> dict[tuple, tuple[Decimal | None, int | None]]:
    """``{(feature, unit, model, day): (price, per)}`` for many usages in one query (None, None: no rate)."""
    keys = sorted(keys)
    with connection.cursor() as cursor:
        cursor.execute(_RATES_OF, [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
                                   [k[3] for k in keys]])  # fmt: skip
        return {(f, u, m, d): (p, n) for f, u, m, d, p, n in cursor.fetchall()}


def grouped(lines: list[CostLine], by: tuple[str, ...]) -> list[dict]:
    """Sum cost and quantity over ``by`` (any of GROUPS), largest cost first."""
    for name in by:
        if name not in GROUPS:
            raise ValueError(f"cannot group by {name!r}; use {', '.join(GROUPS)}")
    sums: dict[tuple, dict] = {}
    units: dict[tuple, set] = {}
    for line in lines:
        key = tuple(getattr(line, name) for name in by)
        row = sums.setdefault(key, {**dict(zip(by, key, strict=True)), "cost": Decimal(0), "quantity": Decimal(0)})
        row["cost"] += line.cost
        row["quantity"] += line.quantity
        units.setdefault(key, set()).add(line.unit)
    for key, row in sums.items():
        if len(units[key]) > 1:
            row["quantity"] = None  # requests plus pairs plus seconds is no quantity
    return sorted(sums.values(), key=lambda row: (-row["cost"], *(str(row[name]) for name in by)))
