import csv
import json
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.audit import selectors
from apps.audit.models import AuditEvent


def _day(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "The audit coverage report: every event type the product records, its group and retention class (and "
        "tenants' longer overrides), and how many events of it each tenant has in a period (default: the last 30 "
        "days). Types with no event in the period are marked; a recorded type missing from the catalogue too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="first day (YYYY-MM-DD; default 30 days ago)")
        parser.add_argument("--until", help="last day, included (YYYY-MM-DD; default today)")
        parser.add_argument("--tenant", action="append", dest="tenants", metavar="SLUG", help="only these tenants")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")

    def handle(self, *args, since, until, tenants, format, **options):
        end = _day(until, "--until")
        end = end + timedelta(days=1) if end else timezone.now()
        start = _day(since, "--since") or end - timedelta(days=30)
        if start >= end:
            raise CommandError("--since is after --until")
        report = selectors.coverage(since=start, until=end, tenant_slugs=tenants)
        if tenants:
            tenant_model = AuditEvent._meta.get_field("tenant").related_model  # the FK's model: no import upward
            missing = sorted(
                set(tenants) - set(tenant_model.objects.filter(slug__in=tenants).values_list("slug", flat=True))
            )
            if missing:
                raise CommandError(f"no such tenant: {', '.join(missing)}")
        columns = tenants or report.tenants
        if format == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "since": start.isoformat(),
                        "until": end.isoformat(),
                        "types": [
                            {
                                "event_type": r.event_type,
                                "group": r.group,
                                "retention": r.retention,
                                "overrides": r.overrides,
                                "in_catalogue": r.listed,
                                "per_tenant": r.per_tenant,
                                "total": r.total,
                            }
                            for r in report.rows
                        ],
                    },
                    indent=2,
                    sort_keys=True,
                )
            )
            return
        if format == "csv":
            writer = csv.writer(self.stdout)
            writer.writerow(["event_type", "group", "retention", "overrides", *[c or "(no tenant)" for c in columns]])
            for r in report.rows:
                overrides = " ".join(f"{t}={k}" for t, k in sorted(r.overrides.items()))
                writer.writerow(
                    [r.event_type, r.group, r.retention, overrides, *[r.per_tenant.get(c, 0) for c in columns]]
                )
            return
        self.stdout.write(f"audit coverage {start:%Y-%m-%d} .. {end - timedelta(seconds=1):%Y-%m-%d}")
        heads = [c or "(none)" for c in columns]
        width = max(len(r.event_type) for r in report.rows)
        self.stdout.write(f"  {'event type':<{width}}  {'retention':<13} " + " ".join(f"{h:>12}" for h in heads))
        group = None
        for r in report.rows:
            if r.group != group:
                group = r.group
                self.stdout.write(f"{group}:")
            counts = " ".join(f"{r.per_tenant.get(c, 0):>12,}" for c in columns)
            mark = "" if r.total else "  (none in the period)"
            longer = (
                f"  overrides: {', '.join(f'{t} {k}' for t, k in sorted(r.overrides.items()))}" if r.overrides else ""
            )
            self.stdout.write(f"  {r.event_type:<{width}}  {r.retention:<13} {counts}{mark}{longer}")
        listed = [r for r in report.rows if r.listed]
        self.stdout.write(
            f"{len(listed)} event type(s) in the catalogue, {len(listed) - len(report.silent)} seen in the period; "
            f"{sum(r.total for r in report.rows):,} event(s)"
        )
        unlisted = [r.event_type for r in report.rows if not r.listed]
        if unlisted:
            self.stdout.write(self.style.WARNING(f"recorded but not in the catalogue: {', '.join(unlisted)}"))
