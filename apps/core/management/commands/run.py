"""``manage.py run`` (the last step of ``make run``): a development command, a thin shim over ``tools.devstack``.

Production starts web, worker and beat as separate processes (``deploy/README.md``); this supervisor is for
the checkout only. The runtime never imports ``tools``; this command and ``devstack`` are the two exceptions
``.importlinter`` lists.
"""

import os
import sys

from django.core.management.base import BaseCommand, CommandError

from tools.devstack import runner, servers


class Command(BaseCommand):
    help = "Run the ASGI web server, a Celery worker, Celery beat and the audit sealer in the foreground; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")

    def handle(self, *args, host, port, concurrency, **options):
        try:
            port = int(port)
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            raise CommandError(f"PORT: expected a TCP port number, got {port!r}") from None
        if servers.port_is_open(port, host if host != "0.0.0.0" else "127.0.0.1"):  # noqa: S104
            raise CommandError(f"port {port} on {host} is already in use; set PORT to another port")
        base = f"http://{host}:{port}"
        # Links in e-mails and alerts (budget alerts, review reminders) point where this server listens, unless set.
        os.environ.setdefault("SITE_URL", base)
        self.stdout.write(
            "\n".join(
                [
                    "IntelGraph is starting:",
                    f"  admin    {base}/admin/",
                    f"  GraphQL  {base}/graphql",
                    f"  health   {base}/healthz   readiness {base}/readyz   metrics {base}/metrics",
                    "Ctrl-C stops the web server, the worker, beat and the audit sealer.",
                    "",
                ]
            )
        )
        self.stdout.flush()
        code = runner.run(runner.commands(host=host, port=port, concurrency=concurrency), echo=self._echo)
        if code:
            sys.exit(code)

    def _echo(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
