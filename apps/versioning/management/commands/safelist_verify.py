from django.core.management.base import BaseCommand, CommandError
from graphene_django.settings import graphene_settings

from apps.versioning.contracts import safelist_problems


class Command(BaseCommand):
    help = "Check every persisted operation: document hash, validity against the live schema, roles, ABAC tags."

    def add_arguments(self, parser):
        parser.add_argument("--safelist", default=None, help="path to a safelist.json (default: graphql/safelist.json)")

    def handle(self, *args, safelist, **options):
        problems = safelist_problems(live=graphene_settings.SCHEMA.graphql_schema, path=safelist)
        if problems:
            raise CommandError("safelist problems:\n  " + "\n  ".join(problems))
        self.stdout.write(self.style.SUCCESS("safelist OK"))
