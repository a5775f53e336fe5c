from contextlib import nullcontext
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.audit.errors import AuditProofError
from apps.audit.proofs import export_recorded, segment_export


class Command(BaseCommand):
    help = (
        "Export a segment of the audit log as JSON lines: the positions after checkpoint --after (0: from the "
        "start) up to checkpoint --upto (default: the latest), every event with its body, hash and signature, every "
        "checkpoint in between, and the tree's frontier before them. Check it offline with "
        "scripts/audit_verify_proof.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("--after", type=int, default=0, help="size of the checkpoint the segment starts after")
        parser.add_argument("--upto", type=int, help="size of the checkpoint it ends at (default: the latest)")
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args, after, upto, out, **options):
        if after < 0:
            raise CommandError("--after must not be negative")
        try:
            target = Path(out).open("w", encoding="utf-8") if out else nullcontext(self.stdout)  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"--out {out}: cannot be written ({exc.strerror})") from None
        lines = 0
        try:
            with target as handle:
                for line in segment_export(after=after, upto=upto):
                    handle.write(line) if out else handle.write(line, ending="")
                    lines += 1
        except AuditProofError as exc:
            if out:
                Path(out).unlink(missing_ok=True)
            raise CommandError(str(exc)) from None
        export_recorded(after=after, upto=upto, lines=lines, via="manage.py audit_export")
        if out:
            self.stdout.write(self.style.SUCCESS(f"wrote {lines} line(s) to {out}"))
