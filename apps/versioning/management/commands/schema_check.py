from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from graphene_django.settings import graphene_settings

from apps.versioning.contracts import allowed_changes, removable_fields, schema_compare


class Command(BaseCommand):
    help = "Fail when the live GraphQL schema breaks the committed schema.graphql (unless recorded as allowed)."

    def add_arguments(self, parser):
        parser.add_argument("--committed", default=str(settings.BASE_DIR / "schema.graphql"))

    def handle(self, *args, committed, **options):
        try:
            sdl = Path(committed).read_text()
        except OSError as exc:
            raise CommandError(f"cannot read {committed}: {exc}") from None
        report = schema_compare(
            committed_sdl=sdl,
            live=graphene_settings.SCHEMA.graphql_schema,
            allowed=allowed_changes(),
            removable=removable_fields(),
        )
        for line in report.dangerous:
            self.stdout.write(self.style.WARNING(f"dangerous: {line}"))
        for line in report.allowed:
            self.stdout.write(f"allowed breaking change (recorded, or a deprecated field past EOL and unused): {line}")
        if not report.ok:
            raise CommandError(
                "breaking changes against schema.graphql:\n  "
                + "\n  ".join(report.breaking)
                + "\nKeep the field (deprecate it with an EOL date) or record the change with a version bump "
                "in graphql/allowed-changes.json."
            )
        self.stdout.write(self.style.SUCCESS("schema check OK: no breaking changes"))
