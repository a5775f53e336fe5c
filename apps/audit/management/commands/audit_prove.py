import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.audit.errors import AuditProofError
from apps.audit.models import AuditEvent
from apps.audit.proofs import event_proof, proof_recorded


class Command(BaseCommand):
    help = (
        "Print (or write) the inclusion proof of one audit event, as JSON: the event (its body, hash, signature), "
        "its position, the RFC 9162 audit path and the signed checkpoint it proves against (the latest unless "
        "--size). --since SIZE adds a consistency proof from an older checkpoint. Check it offline with "
        "scripts/audit_verify_proof.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("event", help="the event's number (seq), as shown in the admin")
        parser.add_argument("--size", type=int, help="prove against the checkpoint of this size (default: latest)")
        parser.add_argument("--since", type=int, help="also prove consistency from the checkpoint of this size")
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args, event, size, since, out, **options):
        try:
            seq = int(event)
        except ValueError:
            raise CommandError(f"EVENT_ID: expected an event number, got {event!r}") from None
        found = AuditEvent.objects.filter(seq=seq).first()
        if found is None:
            raise CommandError(f"there is no audit event #{seq}")
        try:
            proof = event_proof(found, size=size, since=since)
        except AuditProofError as exc:
            raise CommandError(str(exc)) from None
        proof_recorded(found, proof, via="manage.py audit_prove")
        text = json.dumps(proof, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        if not out:
            self.stdout.write(text, ending="")
            return
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--out {out}: cannot be written ({exc.strerror})") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"wrote the proof of event #{seq} (position {proof['position']} of {proof['tree_size']}) to {out}"
            )
        )
