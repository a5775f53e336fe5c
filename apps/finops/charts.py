"""The cost drill-down's pictures (plan F-3), drawn on the server as SVG: the month's burn against the cap, and
spend per day by category. No script: they print, and they say what they show to a screen reader."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLORS = {"llm": "#7c3aed", "compute": "#2563eb", "storage": "#0d9488"}


def _days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    return [start + datetime.timedelta(days=i) for i in range((end - start).days)]


def _legend(parts: list[str], x: int) -> int:
    """The categories' colours, in a row from ``x`` at the top; returns where the row ends."""
    for category, color in COLORS.items():
        parts.append(f'<rect x="{x}" y="0" width="10" height="10" fill="{color}"/>'
                     f'<text x="{x + 14}" y="9" font-size="11" fill="#334155">{category}</text>')  # fmt: skip
        x += 90
    return x


def burn_chart(lines, *, start, end, cap: Decimal | None, forecast: Decimal, today: datetime.date,
               width: int = 720, height: int = 240) -> SafeString:  # fmt: skip
    """Cumulative spend by day (solid), the straight-line forecast to the month's end (dashed), the cap (red)."""
    days = _days(start, end)
    per_day = {day: Decimal(0) for day in days}
    for line in lines:
        if line.day in per_day:
            per_day[line.day] += line.cost
    running, points = Decimal(0), []
    for day in days:
        if day > today:
            break
        running += per_day[day]
        points.append((day, running))
    top_value = max([running, forecast, cap or Decimal(0), Decimal("0.01")]) * Decimal("1.1")
    left, bottom, top = 64, 28, 12
    plot_w, plot_h = width - left - 12, height - bottom - top

    def x(index: float) -> float:
        return left + plot_w * index / max(len(days) - 1, 1)

    def y(value: Decimal) -> float:
        return top + plot_h - float(value / top_value) * plot_h

    label = f"Spend this month: {running:.2f}" + (f" of a {cap:.2f} cap" if cap is not None else " (no cap)")
    parts = [f'<svg class="burn-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(label)}">']  # fmt: skip
    for tick in range(5):
        value = top_value * tick / 4
        parts.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - 12}" y2="{y(value):.1f}" stroke="#e2e8f0"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="#475569">'
            f"{value:,.2f}</text>"
        )
    for index, day in enumerate(days):
        if day.day in (1, 8, 15, 22, 29):
            parts.append(f'<text x="{x(index):.1f}" y="{height - 8}" text-anchor="middle" font-size="11" '
                         f'fill="#475569">{day:%d %b}</text>')  # fmt: skip
    if cap is not None:
        parts.append(f'<line class="cap" x1="{left}" y1="{y(cap):.1f}" x2="{width - 12}" y2="{y(cap):.1f}" '
                     f'stroke="#dc2626" stroke-width="2"><title>cap {cap:.2f}</title></line>')  # fmt: skip
    if points:
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
        parts.append(f'<polyline class="spent" points="{path}" fill="none" stroke="#2563eb" stroke-width="2.5"/>')
        last = len(points) - 1
        parts.append(f'<line class="forecast" x1="{x(last):.1f}" y1="{y(points[-1][1]):.1f}" x2="{x(len(days) - 1):.1f}" '
                     f'y2="{y(forecast):.1f}" stroke="#2563eb" stroke-dasharray="5 4"><title>forecast '
                     f"{forecast:.2f} at the month's end</title></line>")  # fmt: skip
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only


def daily_chart(lines, *, start, end, width: int = 720, height: int = 200) -> SafeString:
    """Spend per day, stacked by category."""
    days = _days(start, end)
    stacks = {day: {c: Decimal(0) for c in COLORS} for day in days}
    for line in lines:
        if line.day in stacks:
            stacks[line.day][line.category] += line.cost
    most = max([sum(s.values()) for s in stacks.values()] + [Decimal("0.01")]) * Decimal("1.1")
    left, bottom, top = 64, 28, 12
    plot_w, plot_h = width - left - 12, height - bottom - top
    step = plot_w / len(days)
    parts = [f'<svg class="daily-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Spend per day by category">']  # fmt: skip
    for tick in range(3):
        value = most * tick / 2
        yy = top + plot_h - float(value / most) * plot_h
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - 12}" y2="{yy:.1f}" stroke="#e2e8f0"/>'
                     f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" fill="#475569">'
                     f"{value:,.2f}</text>")  # fmt: skip
    for index, day in enumerate(days):
        base = top + plot_h
        for category, color in COLORS.items():
            value = stacks[day][category]
            if value <= 0:
                continue
            h = float(value / most) * plot_h
            base -= h
            parts.append(f'<rect x="{left + index * step + step * 0.15:.1f}" y="{base:.1f}" width="{step * 0.7:.1f}" '
                         f'height="{h:.1f}" fill="{color}"><title>{day:%d %b} {category}: {value:.2f}</title></rect>')  # fmt: skip
        if day.day in (1, 8, 15, 22, 29):
            parts.append(f'<text x="{left + index * step + step / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                         f'font-size="11" fill="#475569">{day:%d %b}</text>')  # fmt: skip
    _legend(parts, left)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and fixed labels only


def tenants_chart(lines, *, width: int = 720, bar: int = 18) -> SafeString:
    """One bar per tenant, stacked by category, largest first, with each tenant's total cap as a red tick."""
    lines = list(lines)
    left, right, top = 150, 90, 18
    height = top + max(len(lines), 1) * (bar + 8) + 8
    most = max([line.total for line in lines] + [line.status.scope("total").cap or Decimal(0) for line in lines]
               + [Decimal("0.01")]) * Decimal("1.05")  # fmt: skip
    plot_w = width - left - right

    def x(value: Decimal) -> float:
        return left + float(value / most) * plot_w

    parts = [f'<svg class="tenants-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="Spend by tenant, stacked by category">']  # fmt: skip
    legend_x = _legend(parts, left)
    parts.append(f'<line x1="{legend_x}" y1="0" x2="{legend_x}" y2="10" stroke="#dc2626" stroke-width="2"/>'
                 f'<text x="{legend_x + 6}" y="9" font-size="11" fill="#334155">total cap</text>')  # fmt: skip
    for index, line in enumerate(lines):
        y = top + index * (bar + 8)
        parts.append(f'<text x="{left - 6}" y="{y + bar * 0.7:.1f}" text-anchor="end" font-size="12" '
                     f'fill="#0f172a">{escape(line.slug)}</text>')  # fmt: skip
        start = Decimal(0)
        for category, value in line.spend.by_category().items():
            if value <= 0:
                continue
            parts.append(f'<rect x="{x(start):.1f}" y="{y}" width="{x(start + value) - x(start):.1f}" height="{bar}" '
                         f'fill="{COLORS[category]}"><title>{escape(line.slug)} {category}: {value:,.2f}</title></rect>')  # fmt: skip
            start += value
        parts.append(f'<text x="{x(start) + 6:.1f}" y="{y + bar * 0.7:.1f}" font-size="11" fill="#334155">'
                     f"{line.total:,.2f}</text>")  # fmt: skip
        cap = line.status.scope("total").cap
        if cap is not None:
            parts.append(f'<line class="cap" x1="{x(cap):.1f}" y1="{y - 3}" x2="{x(cap):.1f}" y2="{y + bar + 3}" '
                         f'stroke="#dc2626" stroke-width="2"><title>{escape(line.slug)} total cap {cap:,.2f}</title></line>')  # fmt: skip
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers, fixed labels and escaped slugs only
