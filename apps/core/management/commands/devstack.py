"""``manage.py devstack up|down|status|env``: a development command, a thin shim over ``tools.devstack``.

The runtime never imports ``tools``; this command and ``run`` are the two exceptions ``.importlinter`` lists,
because the embedded servers are started through ``manage.py`` like everything else in the checkout.
"""

from django.core.management.base import BaseCommand, CommandError

from intelgraph import devstack_state
from tools.devstack import servers


class Command(BaseCommand):
    help = (
        "Manage the embedded PostgreSQL and Redis/FalkorDB servers under var/ "
        "(used when DATABASE_URL / REDIS_URL / GRAPH_URL are not set)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["up", "down", "status", "env"], help="what to do")

    def handle(self, *args, action, **options):
        try:
            if action == "up":
                servers.up(echo=self.stdout.write)
            elif action == "down":
                servers.down(echo=self.stdout.write)
            elif action == "status":
                statuses = servers.status()
                for status in statuses:
                    self.stdout.write(status.line())
                if not all(s.running for s in statuses):
                    raise CommandError("not all embedded servers are running (start them: manage.py devstack up)")
            else:  # env: print the connection URLs, for tools outside Django
                for name, url in devstack_state.running_urls().items():
                    self.stdout.write(f"{name}={url}")
        except servers.DevstackError as exc:
            raise CommandError(str(exc)) from None
