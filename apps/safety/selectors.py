"""Reads for the data-safety pages: the drill history chart, the repository's state."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.safety.choices import BackupStatus, DrillStatus
from apps.safety.models import Backup, BackupPolicy, RestoreDrill

CHART_DRILLS = 40


def drill_history(limit: int = CHART_DRILLS) -> list[RestoreDrill]:
    """The last finished drills, oldest first (the chart's left to right)."""
    finished = RestoreDrill.objects.filter(status__in=[DrillStatus.PASSED, DrillStatus.FAILED]).order_by("-finished_at")
    return list(reversed(finished[:limit]))


def rto_chart(drills: list[RestoreDrill], *, limit_seconds: int, width: int = 720, height: int = 220) -> SafeString:
    """An SVG bar chart of RTO per drill (green passed, red failed), with the policy's limit as a dashed line."""
    if not drills:
        return mark_safe('<p class="help">No finished drill yet: run one to start the chart.</p>')
    left, bottom, top = 56, 28, 12
    values = [drill.rto_seconds or 0 for drill in drills]
    scale_max = max(max(values), 1.0) * 1.15
    show_limit = limit_seconds <= scale_max * 4
    if show_limit:
        scale_max = max(scale_max, limit_seconds * 1.1)
    plot_w, plot_h = width - left - 10, height - bottom - top
    bar_w = max(4, min(28, plot_w / len(drills) * 0.7))
    step = plot_w / len(drills)

    def y(value: float) -> float:
        return top + plot_h - value / scale_max * plot_h

    parts = [
        f'<svg class="rto-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="RTO of the last {len(drills)} restore drills">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#94a3b8"/>',
    ]
    for tick in range(5):
        value = scale_max * tick / 4
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="#475569">'
            f"{value:.0f} s</text>"
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - 10}" y2="{y(value):.1f}" stroke="#e2e8f0"/>'
        )
    for index, drill in enumerate(drills):
        value = drill.rto_seconds or 0
        x = left + index * step + (step - bar_w) / 2
        colour = "#16a34a" if drill.status == DrillStatus.PASSED else "#dc2626"
        label = escape(
            f"#{drill.pk} {drill.status} {drill.finished_at:%Y-%m-%d %H:%M} RTO "
            + (f"{value:.1f} s" if drill.rto_seconds is not None else "not reached")
        )
        bar_h = max(2.0, value / scale_max * plot_h)
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
            f'fill="{colour}"><title>{label}</title></rect>'
        )
    if show_limit:
        parts.append(
            f'<line x1="{left}" y1="{y(limit_seconds):.1f}" x2="{width - 10}" y2="{y(limit_seconds):.1f}" '
            f'stroke="#dc2626" stroke-dasharray="6 4"/><text x="{width - 12}" y="{y(limit_seconds) - 4:.1f}" '
            f'text-anchor="end" font-size="11" fill="#dc2626">policy RTO {limit_seconds} s</text>'
        )
    parts.append(
        f'<text x="{left}" y="{height - 8}" font-size="11" fill="#475569">'
        f"{drills[0].finished_at:%Y-%m-%d}</text>"
        f'<text x="{width - 10}" y="{height - 8}" text-anchor="end" font-size="11" fill="#475569">'
        f"{drills[-1].finished_at:%Y-%m-%d}</text></svg>"
    )
    return mark_safe("".join(parts))  # noqa: S308 - every value above is a number or escaped


def repository_summary() -> dict:
    """What the backup list's header says: good backups, their size, the newest, the policy's limits."""
    good = Backup.objects.filter(status=BackupStatus.GOOD)
    newest = good.order_by("-started_at").first()
    return {
        "good": good.count(),
        "bytes": sum(good.values_list("size_bytes", flat=True)),
        "newest": newest,
        "policy": BackupPolicy.current(),
    }
