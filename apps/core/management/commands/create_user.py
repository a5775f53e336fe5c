from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.core.models import Tenant


class Command(BaseCommand):
    help = (
        "Create a user with a role in a tenant. With --token, also issue an API token and print it alone on the "
        "last line (for scripts: TOKEN=$(manage.py create_user ... --token | tail -n1))."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--clearance",
            default=None,
            help="highest sensitivity readable: 0-4 or " + ", ".join(m.name.lower() for m in Sensitivity),
        )
        parser.add_argument("--email", default="")
        parser.add_argument("--token", action="store_true", help="issue an API token and print it last")
        parser.add_argument("--token-name", default="created by create_user")
        parser.add_argument(
            "--developer",
            action="store_true",
            help="give the token the developer scope: ad-hoc operations where only persisted ones run (production)",
        )

    def handle(self, *args, username, tenant, role, clearance, email, token, token_name, developer, **options):
        if developer and not token:
            raise CommandError("--developer is a scope of the API token: pass --token too")
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            known = ", ".join(Tenant.objects.values_list("slug", flat=True)[:20]) or "none yet"
            raise CommandError(f"unknown tenant {tenant!r} (tenants: {known}); create it with create_tenant")
        try:
            user = services.user_create(username=username, tenant=found, role=role, clearance=clearance, email=email)
            raw = services.api_token_issue(user=user, name=token_name, developer=developer)[1] if token else None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        membership = user.memberships.get(tenant=found)
        self.stdout.write(
            f"created user {user.username}: {membership.role} in {found.slug}, "
            f"clearance {membership.get_clearance_display().lower()}"
        )
        if raw:
            self.stdout.write("API token (shown once; send it as 'Authorization: Bearer <token>'):")
            self.stdout.write(raw)
