from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core.management.tenant_args import tenants_from
from apps.graph import services
from apps.graph.store import GraphStoreUnavailable, get_store


class Command(BaseCommand):
    help = (
        "Compare the graph projection with PostgreSQL per tenant: counts and checksums of nodes and edges, "
        "and the records that differ. Exits with status 1 when they differ."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", action="append", help="tenant slug (repeat); default all tenants")
        parser.add_argument("--max-listed", type=int, default=20, help="differing records to list per tenant")

    def handle(self, *args, tenant, max_listed, **options):
        try:
            store = get_store()
            store.ping()
        except GraphStoreUnavailable as exc:
            raise CommandError(f"the graph store is not reachable: {exc}") from None
        quiet = options["verbosity"] == 0
        pending = services.outbox_lag()["pending"]
        if pending:
            self.stdout.write(f"note: {pending:,} outbox rows are not drained yet; they show as differences")
        failed = []
        for target in tenants_from(tenant):
            nodes, edges = services.rebuild_counts(tenant=target)
            total = nodes + edges + 2 * services.BUCKETS
            with tqdm(total=total, unit="row", desc=target.slug, disable=quiet) as bar:
                try:
                    report = services.graph_verify(
                        tenant=target, store=store, max_listed=max_listed, progress=lambda phase, n: bar.update(n)
                    )
                except GraphStoreUnavailable as exc:
                    raise CommandError(f"{target.slug}: the graph store failed: {exc}") from None
            for what in ("nodes", "edges"):
                pg, graph = report.postgres[what], report.graph[what]
                same = pg.count == graph.count and pg.checksum == graph.checksum
                self.stdout.write(
                    f"{target.slug} {what:5}  postgres {pg.count:>10,}  {pg.checksum:016x}   "
                    f"graph {graph.count:>10,}  {graph.checksum:016x}   {'same' if same else 'DIFFERENT'}"
                )
            for diff in report.differences:
                self.stdout.write(f"  {diff.what} {diff.id}: {diff.problem}")
            if report.differing_records > len(report.differences):
                self.stdout.write(f"  … and {report.differing_records - len(report.differences):,} more")
            if not report.ok:
                failed.append(target.slug)
        if failed:
            self.stderr.write(
                f"projection differs from PostgreSQL for {', '.join(failed)}; "
                "run `manage.py graph_drain`, or `manage.py graph_rebuild --tenant …`"
            )
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("graph projection matches PostgreSQL"))
