import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core.importing import ImportFailed, ImportRejected, entities_import
from apps.core.models import Tenant, User


class Command(BaseCommand):
    help = (
        "Import entities and relationships from a JSON Lines (.jsonl, .ndjson) or CSV file into one tenant. "
        "The whole file is checked first; a file with any problem is rejected whole. See docs/import-format.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the file to import")
        parser.add_argument("--tenant", required=True, metavar="SLUG", help="the tenant the data belongs to")
        parser.add_argument("--source", metavar="NAME", help="name of the Source recorded (default: the file's name)")
        parser.add_argument("--actor", metavar="USERNAME", help="user named in the audit event (default: system)")

    def handle(self, *args, file, tenant, source, actor, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            known = ", ".join(Tenant.objects.values_list("slug", flat=True)[:20]) or "none yet"
            raise CommandError(f"no tenant with slug {tenant!r} (tenants: {known})")
        actor_obj = None
        if actor:
            actor_obj = User.objects.filter(username=actor).first()
            if actor_obj is None:
                raise CommandError(f"no user named {actor!r}")
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                for other in bars.values():
                    other.close()
                # disable=None: no bar when stderr is not a terminal (cron, CI, tests)
                bar = bars[stage] = tqdm(total=total, desc=stage, unit=" rows", file=sys.stderr, disable=None)
            bar.update(done - bar.n)

        try:
            report = entities_import(
                tenant=tenant_obj, path_or_stream=file, actor=actor_obj, source_name=source, progress=progress
            )
        except ImportRejected as exc:
            self._close(bars)
            for line, message in exc.errors:
                self.stderr.write(f"{file}:{line}: {message}")
            if exc.more:
                self.stderr.write(f"{file}: … and {exc.more} more")
            raise CommandError(f"{file}: rejected with {exc.total} problem(s); nothing was imported") from None
        except ImportFailed as exc:
            self._close(bars)
            raise CommandError(str(exc)) from None
        self._close(bars)
        e, r = report.entities, report.relationships
        self.stdout.write(
            f"Imported {file} into {tenant_obj.slug} in {report.seconds:.2f} s "
            f"(source {report.source.name!r}, sha256 {report.sha256[:16]}…)\n"
            f"  entities:      {e.created} created, {e.updated} updated, {e.unchanged} unchanged\n"
            f"  relationships: {r.created} created, {r.updated} updated, {r.unchanged} unchanged"
        )

    @staticmethod
    def _close(bars) -> None:
        for bar in bars.values():
            bar.close()
