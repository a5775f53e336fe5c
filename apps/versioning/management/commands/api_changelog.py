import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.versioning.changelog import changelog_path, changelog_stale
from apps.versioning.releases import ContractError
from apps.versioning.services import changelog_write


class Command(BaseCommand):
    help = "Write docs/api/CHANGELOG.md from graphql/releases.json, graphql/allowed-changes.json and the deprecations."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="fail when the committed changelog is stale")

    def handle(self, *args, check, **options):
        shown = os.path.relpath(changelog_path(), settings.BASE_DIR)
        try:
            if check:
                if changelog_stale():
                    raise CommandError(
                        f"{shown} is stale: run `manage.py api_changelog` and commit the result "
                        "(it is made from graphql/releases.json, graphql/allowed-changes.json and policies/schema.rego)"
                    )
                self.stdout.write(self.style.SUCCESS(f"{shown} is up to date"))
                return
            changelog_write()
        except ContractError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"wrote {shown}"))
