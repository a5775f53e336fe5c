from django.core.management.base import BaseCommand

from apps.compliance.control_library import LIBRARY_VERSION
from apps.compliance.services import controls_sync


class Command(BaseCommand):
    help = "Make the SOC 2 controls match apps/compliance/control_library.py (migrate does this too)."

    def handle(self, *args, **options):
        changes = controls_sync()
        said = ", ".join(f"{len(v)} {k} ({', '.join(v)})" for k, v in changes.items() if v) or "no change"
        self.stdout.write(self.style.SUCCESS(f"control library {LIBRARY_VERSION}: {said}"))
