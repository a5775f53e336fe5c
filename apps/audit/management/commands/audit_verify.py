from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.audit.errors import AuditCheckpointError
from apps.audit.models import AuditEvent
from apps.audit.services import verify_chain


class Command(BaseCommand):
    help = (
        "Walk the audit log's hash chain and signatures (trusted keys only: AUDIT_TRUSTED_KEYS and this "
        "installation's key), check it against the last verified checkpoint (AUDIT_CHECKPOINT_FILE), report the "
        "first broken or missing link; when it verifies, move the checkpoint to the head."
    )

    def handle(self, *args, **options):
        total = AuditEvent.objects.count()
        try:
            with tqdm(total=total, unit="event", disable=options["verbosity"] == 0 or total < 1000) as bar:
                report = verify_chain(progress=bar.update, advance_checkpoint=True)
        except (AuditCheckpointError, ImproperlyConfigured) as exc:
            raise CommandError(f"audit chain NOT VERIFIED: {exc}") from None
        if not report.ok and report.problem.seq is None:  # the checkpoint itself: no event was checked
            raise CommandError(f"audit chain NOT VERIFIED: {report.problem}")
        if not report.ok:
            raise CommandError(
                f"audit chain BROKEN: {report.problem} "
                f"({report.checked} events verified before it; last good #{report.head_seq})"
            )
        before, after = report.checkpoint, report.checkpoint_after
        if before is None:
            moved = f"no earlier checkpoint; wrote the first at #{after.seq}"
        elif after.seq == before.seq:
            moved = f"checkpoint stays at #{after.seq}"
        else:
            moved = f"checkpoint moved from #{before.seq} to #{after.seq}"
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain OK: {report.checked} events checked, head #{report.head_seq} "
                f"{report.head_hash[:16]}…; {moved} ({settings.AUDIT_CHECKPOINT_FILE})"
            )
        )
