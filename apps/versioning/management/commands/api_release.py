import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from graphene_django.settings import graphene_settings

from apps.versioning.releases import ContractError
from apps.versioning.services import release_cut


class Command(BaseCommand):
    help = (
        "Record a release of the API: snapshot schema.graphql at a commit (which must be the live schema) into "
        "graphql/releases/ and add it to graphql/releases.json."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", help="MAJOR.MINOR.PATCH, above every release so far")
        parser.add_argument("--commit", default="HEAD", help="the commit the release is cut from (default HEAD)")
        parser.add_argument("--date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default today)")

    def handle(self, *args, version, commit, date, **options):
        try:
            release = release_cut(
                version=version, live=graphene_settings.SCHEMA.graphql_schema, commit=commit, date=date
            )
        except ContractError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"release {release.version} (API {release.api}) recorded: {release.sdl}, commit {release.commit[:12]}, "
                f"sha256 {release.sha256}"
            )
        )
        self.stdout.write("Now run `manage.py api_changelog` and commit graphql/ and docs/api/CHANGELOG.md.")
