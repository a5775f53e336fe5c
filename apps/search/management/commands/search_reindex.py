from django.core.management.base import BaseCommand
from tqdm import tqdm

from apps.core.management.tenant_args import tenants_from
from apps.core.models import Entity
from apps.search.services import excluded_fields_sync, search_reindex


class Command(BaseCommand):
    help = "Rebuild the keyword index (after changing a tenant's text search configuration or the policy)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", action="append", help="tenant slug (repeat); default all")

    def handle(self, *args, tenant, **options):
        tenant_ids = [t.pk for t in tenants_from(tenant)] if tenant else None
        changed = excluded_fields_sync()
        if changed:
            self.stdout.write(f"index exclusions changed for: {', '.join(changed)}")
        total = Entity.objects.filter(tenant_id__in=tenant_ids).count() if tenant_ids else Entity.objects.count()
        with tqdm(total=total, unit="entity", disable=options["verbosity"] == 0) as bar:
            done = search_reindex(tenant_ids=tenant_ids, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(f"reindexed {done} entities"))
