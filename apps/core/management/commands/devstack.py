from django.core.management.base import BaseCommand, CommandError

from intelgraph import devstack


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
                devstack.up(echo=self.stdout.write)
            elif action == "down":
                devstack.down(echo=self.stdout.write)
            elif action == "status":
                statuses = devstack.status()
                for status in statuses:
                    self.stdout.write(status.line())
                if not all(s.running for s in statuses):
                    raise CommandError("not all embedded servers are running (start them: manage.py devstack up)")
            else:  # env: print the connection URLs, for tools outside Django
                for name, url in devstack.running_urls().items():
                    self.stdout.write(f"{name}={url}")
        except devstack.DevstackError as exc:
            raise CommandError(str(exc)) from None
