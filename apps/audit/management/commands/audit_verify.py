from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.audit.errors import AuditCheckpointError
from apps.audit.models import AuditPosition
from apps.audit.verification import verify_recorded


class Command(BaseCommand):
    help = (
        "Verify the audit log: every event's content against its hash, every position, the Merkle root of every "
        "signed checkpoint (trusted keys only: AUDIT_TRUSTED_KEYS and this installation's key) and so each "
        "checkpoint's consistency with the one before, every signature no earlier run checked, the events not "
        "sealed yet, and the log against the last checkpoint seen outside the database (AUDIT_CHECKPOINT_FILE). "
        "Incremental from the last verified state (AUDIT_VERIFIED_FILE) unless --full. Names the first bad "
        "position and what is wrong; exit status 1 then."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="verify every position, not only those added since")
        parser.add_argument(
            "--signatures",
            action="store_true",
            help="with --full: check again the signatures earlier runs checked (about twice as long)",
        )
        parser.add_argument("--jobs", type=int, default=None, help="processes walking the log (default: cores)")

    def handle(self, *args, full, signatures, jobs, **options):
        if jobs is not None and jobs < 1:
            raise CommandError("--jobs must be at least 1")
        if signatures and not full:
            raise CommandError("--signatures goes with --full (an incremental run checks every signature it walks)")
        total = AuditPosition.objects.count()
        try:
            with tqdm(total=total, unit="position", disable=options["verbosity"] == 0 or total < 10_000) as bar:
                report = verify_recorded(
                    full=full,
                    signatures=True if signatures else None,
                    progress=bar.update,
                    jobs=jobs,
                    via="manage.py audit_verify",
                )
        except (AuditCheckpointError, ImproperlyConfigured) as exc:
            raise CommandError(f"audit log NOT VERIFIED: {exc}") from None
        if not report.ok:
            raise CommandError(
                f"audit log BROKEN: {report.problem} ({report.checked} position(s) verified before it in this "
                f"{'full' if full else 'incremental'} run, from position {report.start + 1})"
            )
        mode = (
            "full"
            if full
            else (f"incremental from position {report.start + 1}" if report.resumed else "full (first run)")
        )
        rate = f", {report.checked / report.seconds:,.0f} positions/s" if report.checked and report.seconds else ""
        signed = f"{report.signatures} signature(s) checked" + (
            f" (those of positions 1..{report.signatures_before} by an earlier run: --signatures checks them again)"
            if report.signatures_before
            else ""
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"audit log OK ({mode}): {report.checked} position(s) and {report.checkpoints} checkpoint(s) checked "
                f"in {report.seconds:.1f}s{rate}, {signed}; {report.size} sealed, root {report.root[:16]}…; "
                f"{report.unsealed} not sealed yet, signatures checked; verified state in {settings.AUDIT_VERIFIED_FILE}"
            )
        )
        for note in report.notes:
            self.stdout.write(f"  note: {note}")
