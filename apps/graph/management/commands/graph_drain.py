from django.core.management.base import BaseCommand, CommandError

from apps.graph import services
from apps.graph.store import GraphStoreUnavailable


class Command(BaseCommand):
    help = "Apply the pending graph outbox now (the worker does this continuously; this is for operators)."

    def handle(self, *args, **options):
        before = services.outbox_lag()
        try:
            result = services.outbox_drain()
        except GraphStoreUnavailable as exc:
            raise CommandError(f"the graph store is not reachable; {before['pending']:,} rows kept: {exc}") from None
        if result.busy:
            raise CommandError("another drain or a rebuild is running; try again when it ends")
        self.stdout.write(self.style.SUCCESS(f"applied {result.applied:,} outbox rows; {result.remaining:,} pending"))
