from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.compliance.models import AuditEvent
from apps.compliance.services import verify_chain


class Command(BaseCommand):
    help = "Walk the audit log's hash chain and signatures; report the first broken or missing link."

    def handle(self, *args, **options):
        total = AuditEvent.objects.count()
        with tqdm(total=total, unit="event", disable=options["verbosity"] == 0 or total < 1000) as bar:
            report = verify_chain(progress=bar.update)
        if not report.ok:
            raise CommandError(
                f"audit chain BROKEN at {report.problem} "
                f"({report.checked} events verified before it; last good #{report.head_seq})"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain OK: {report.checked} events, head #{report.head_seq} {report.head_hash[:16]}…"
            )
        )
