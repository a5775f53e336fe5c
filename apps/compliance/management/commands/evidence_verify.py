import importlib.util
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.audit import services as audit

SCRIPTS = Path(settings.BASE_DIR) / "scripts"


def _standalone():
    """The auditor's verifier itself (scripts/evidence_verify.py): one implementation, offline and here."""
    spec = importlib.util.spec_from_file_location("evidence_verify", SCRIPTS / "evidence_verify.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Command(BaseCommand):
    help = (
        "Check an evidence zip (an access review export, an evidence bundle) against this installation's trusted "
        "keys (AUDIT_TRUSTED_KEYS and its own, never the database's): the manifest's signature, every file's hash, "
        "no file added or removed, every audit event's inclusion proof. The same code as scripts/evidence_verify.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the evidence zip")

    def handle(self, *args, file, **options):
        verifier = _standalone()
        proofs = verifier.proofs
        keys = {
            key_id: proofs.Ed25519PublicKey.from_public_bytes(bytes.fromhex(h))
            for key_id, h in audit.trusted_keys().items()
        }
        try:
            said = verifier.verify_file(file, keys)
        except verifier.Failed as exc:
            raise CommandError(f"NOT VERIFIED: {exc}") from None
        self.stdout.write(self.style.SUCCESS(said[0]))
        for line in said[1:]:
            self.stdout.write(line)
