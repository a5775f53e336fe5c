import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.core import services
from apps.core.choices import Role, Sensitivity
from apps.core.models import Tenant, User


class Command(BaseCommand):
    help = (
        "Make sure an administrator account exists and print how to log in. The first time it creates "
        "'admin' with IG_ADMIN_PASSWORD or a generated password kept in var/admin-password."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("IG_ADMIN_USERNAME", "admin"))
        parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/admin/")

    def handle(self, *args, username, url, **options):
        password_file = settings.VAR_DIR / "admin-password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = os.environ.get("IG_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            with transaction.atomic():
                user = User.objects.create_superuser(username=username, email="", password=password)
                for tenant in Tenant.objects.all():
                    services.membership_set(user=user, tenant=tenant, role=Role.ADMIN, clearance=Sensitivity.TOP_SECRET)
            if not os.environ.get("IG_ADMIN_PASSWORD"):
                password_file.parent.mkdir(parents=True, exist_ok=True)
                password_file.write_text(password + "\n")
                password_file.chmod(0o600)
            self.stdout.write(self.style.SUCCESS(f"created administrator {username}"))
            where = password
        elif password_file.exists():
            where = f"{password_file.read_text().strip()} (as first set; if you changed it, use yours)"
        else:
            where = "the password you set (IG_ADMIN_PASSWORD at creation)"
        self.stdout.write(f"Log in at {url} as {username} / {where}")
