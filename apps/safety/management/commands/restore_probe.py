"""Run by a restore drill in a process of its own, with DATABASE_URL, REDIS_URL and GRAPH_URL naming the scratch
instance: what the product sees of the restored data. Prints one JSON line. Not for the live installation."""

import io
import json
import os
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test import Client

from apps.safety import probes


class Command(BaseCommand):
    help = "Probe a restored scratch instance for a restore drill (graph or probes); prints one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["graph", "probes"])

    def handle(self, *args, what, **options):
        if os.environ.get("IG_RESTORE_PROBE") != "1":
            raise CommandError("restore_probe runs inside a restore drill, against its scratch instance only")
        started = time.perf_counter()
        if what == "graph":
            found = probes.graph_probe()
        else:
            found = probes.product_probe(client=Client(), audit_verify=_audit_verify, started=started)
        found["elapsed"] = round(time.perf_counter() - started, 3)
        self.stdout.write(json.dumps(found, default=str))


def _audit_verify() -> tuple[bool, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", "--full", stdout=out, stderr=err)
    except CommandError as exc:
        return False, str(exc)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return True, lines[-1] if lines else "verified"
