from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from apps.audit import retention
from apps.audit.errors import AuditRetentionError
from apps.audit.models import AuditCheckpoint


class Command(BaseCommand):
    help = (
        "Purge audit events past retention: whole sealed segments (positions between two checkpoints) whose every "
        "event is past its retention class and under no legal hold. The events go; their leaf hashes, the "
        "checkpoints and a signed tombstone per purged range stay, so audit_verify still proves the log. "
        "--dry-run shows what would go and what a hold keeps. Celery beat runs it daily."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="show what would be purged; delete nothing")
        parser.add_argument(
            "--segment",
            type=int,
            action="append",
            dest="segments",
            metavar="SIZE",
            help="purge only the segment ending at checkpoint SIZE (repeatable); refused whole if one is held",
        )
        parser.add_argument(
            "--as-of", help="decide retention as at this ISO time instead of now (a later time purges more)"
        )

    def handle(self, *args, dry_run, segments, as_of, **options):
        now = timezone.now()
        if as_of:
            try:
                now = datetime.fromisoformat(as_of)
            except ValueError:
                raise CommandError(f"--as-of: {as_of!r} is not an ISO date or time (e.g. 2027-01-31T00:00)") from None
            if timezone.is_naive(now):
                now = now.replace(tzinfo=UTC)
        total = AuditCheckpoint.objects.count()
        quiet = options["verbosity"] == 0 or total < 1000
        try:
            with tqdm(total=total, unit="segment", disable=quiet, desc="reading") as bar:
                report = retention.purge(
                    now=now, dry_run=dry_run, segments=segments, via="manage.py audit_purge", progress=bar.update
                )
        except AuditRetentionError as exc:
            raise CommandError(str(exc)) from None
        plan = report.plan
        verb = "would purge" if dry_run else "purged"
        events = plan.events if dry_run else report.deleted
        self.stdout.write(
            f"as of {now:%Y-%m-%d %H:%M} UTC: {verb} {len(plan.purgeable)} segment(s), {events} event(s); "
            f"{len(plan.held)} segment(s) past retention kept by a legal hold; {plan.kept} kept for retention "
            f"(of {plan.considered} sealed long enough ago to look at)"
        )
        for segment in plan.purgeable[:20]:
            self.stdout.write(
                f"  {verb} {segment.label}: {segment.events} event(s) from {segment.oldest:%Y-%m-%d} to "
                f"{segment.newest:%Y-%m-%d}"
                if segment.oldest
                else f"  {verb} {segment.label}: no event left"
            )
        if len(plan.purgeable) > 20:
            self.stdout.write(f"  … and {len(plan.purgeable) - 20} more")
        for segment in plan.held[:20]:
            holds = ", ".join(f"#{h}" for h in segment.holds)
            self.stdout.write(f"  held {segment.label}: {segment.events} event(s), legal hold {holds}")
        for tombstone in report.tombstones[:20]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"  tombstone {tombstone.first}..{tombstone.last}: {tombstone.count} event(s), "
                    f"leaves root {tombstone.leaves_root[:16]}…"
                )
            )
