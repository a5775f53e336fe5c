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
        "checkpoint's consistency with the one before, the events not sealed yet (with their signatures), and the "
        "log against the last checkpoint seen outside the database (AUDIT_CHECKPOINT_FILE). Incremental from the "
        "last verified state (AUDIT_VERIFIED_FILE) unless --full; an incremental run checks each new event's "
        "signature, a full run trusts the signed checkpoints for those the sealer checked unless --signatures. "
        "Names the first bad position and what is wrong; exit status 1 then."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="verify every position, not only those added since")
        parser.add_argument(
            "--signatures",
            action="store_true",
            help="with --full: check every sealed event's signature again (about 3 times slower)",
        )
        parser.add_argument("--jobs", type=int, default=None, help="processes walking the log (default: cores)")

    def handle(self, *args, full, signatures, jobs, **options):
        if jobs is not None and jobs < 1:
            raise CommandError("--jobs must be at least 1")
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
        signed = (
            f"{report.signatures} signature(s) checked"
            if report.signatures or not full
            else "signatures vouched for by the signed checkpoints (--signatures checks each)"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"audit log OK ({mode}): {report.checked} position(s) and {report.checkpoints} checkpoint(s) checked "
                f"in {report.seconds:.1f}s{rate}, {signed}; {report.size} sealed, root {report.root[:16]}…; "
                f"{report.unsealed} not sealed yet, signatures checked; verified state in {settings.AUDIT_VERIFIED_FILE}"
            )
        )
