import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.audit.errors import AuditSealingError
from apps.audit.sealing import run_sealer, seal_pending


class Command(BaseCommand):
    help = (
        "Run the audit sealer: give committed audit events their positions in the Merkle log and sign a checkpoint "
        "per batch, every AUDIT_SEALER_INTERVAL_MS, until SIGTERM. One runs at a time (an advisory lock the sealer "
        "alone takes); a second one waits. --once seals what is committed now and exits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="seal every committed event, then exit")
        parser.add_argument("--interval-ms", type=int, default=None, help="default: AUDIT_SEALER_INTERVAL_MS")

    def handle(self, *args, once, interval_ms, **options):
        logging.getLogger("apps.audit").setLevel(logging.INFO)
        if once:
            try:
                sealed = seal_pending()
            except AuditSealingError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(self.style.SUCCESS(f"sealed {sealed} position(s)"))
            return
        interval = (interval_ms if interval_ms is not None else settings.AUDIT_SEALER_INTERVAL_MS) / 1000

        def say(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        run_sealer(interval=interval, say=say)
