from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.core import services


class Command(BaseCommand):
    help = "Create a tenant (a customer organisation)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="short identifier: lower-case letters, digits and hyphens")
        parser.add_argument("--name", default="", help="display name (defaults to the slug)")

    def handle(self, *args, slug, name, **options):
        try:
            tenant = services.tenant_create(slug=slug, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"created tenant {tenant.slug} ({tenant.name})"))
