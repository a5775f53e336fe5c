"""Reading spend: usage times the rate in force on the day of use, per tenant, grouped as the caller asks."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from apps.finops.choices import CATEGORY_OF, Category

GROUPS = ("category", "feature", "model", "day", "unit")

_COSTS = """
SELECT u.day, u.feature, u.unit, u.model, u.quantity, u.estimated, r.price, r.per
FROM finops_usagedaily u
LEFT JOIN LATERAL (
    SELECT price, per FROM finops_rate r
    WHERE r.feature = u.feature AND r.unit = u.unit AND (r.model = u.model OR r.model = '')
      AND r.effective_from <= u.day
    ORDER BY (r.model = u.model) DESC, r.effective_from DESC
    LIMIT 1
) r ON true
WHERE u.tenant_id = %s AND u.day >= %s AND u.day < %s
"""


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


def spend(*, tenant_id: int, start: datetime.date, end: datetime.date, unfolded: dict | None = None) -> Spend:
    """The tenant's spend on the days [start, end): folded usage, plus ``unfolded`` Redis counts if given
    (``metering.unfolded``), each priced at the rate in force on its day."""
    result = Spend(start=start, end=end)
    with connection.cursor() as cursor:
        cursor.execute(_COSTS, [tenant_id, start, end])
        rows = cursor.fetchall()
    for day, feature, unit, model, quantity, estimated, rate_price, per in rows:
        result.lines.append(
            CostLine(
                day, feature, unit, model, quantity, estimated, price(quantity, rate_price, per), rate_price is not None
            )
        )
    if unfolded:
        for (day, feature, unit, model), quantity in unfolded.items():
            if not start <= day < end:
                continue
            rate = rate_on(feature=feature, unit=unit, model=model, day=day)
            result.lines.append(
                CostLine(
                    day,
                    feature,
                    unit,
                    model,
                    quantity,
                    Decimal(0),
                    price(quantity, *(rate or (None, None))),
                    rate is not None,
                )
            )
    return result


def rate_on(*, feature: str, unit: str, model: str, day: datetime.date) -> tuple[Decimal, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT price, per FROM finops_rate WHERE feature = %s AND unit = %s AND (model = %s OR model = '') "
            "AND effective_from <= %s ORDER BY (model = %s) DESC, effective_from DESC LIMIT 1",
            [feature, unit, model, day, model],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


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
