from django.core.management.base import BaseCommand, CommandError

from apps.core.management.tenant_args import tenants_from
from apps.graph.store import GraphStoreUnavailable, get_store


class Command(BaseCommand):
    help = "Create the graph store's indexes and constraints for tenants (idempotent; writes also do it on first use)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", action="append", help="tenant slug (repeat); default all tenants")

    def handle(self, *args, tenant, **options):
        try:
            store = get_store()
            for target in tenants_from(tenant):
                statements = store.ensure_schema(target.pk)
                self.stdout.write(f"{target.slug}: {len(statements)} index statements applied ({store.backend})")
        except GraphStoreUnavailable as exc:
            raise CommandError(f"the graph store is not reachable: {exc}") from None
