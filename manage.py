#!/usr/bin/env python
"""IntelGraph's command-line entry point (Django's manage.py)."""

import os
import sys

# Commands that do not need the servers running.
OFFLINE_COMMANDS = {
    "devstack",
    "help",
    "version",
    "makemigrations",
    "check",
    "collectstatic",
    "graphql_schema",
    "safelist_verify",
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intelgraph.settings")
    # Every process manage.py starts (web, workers, beat, commands) writes its metrics here; /metrics adds them up.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        var = os.environ.get("IG_VAR_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "var")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(os.path.abspath(var), "prometheus")
    try:
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    except OSError:  # a read-only file system: each process keeps its own metrics
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    from intelgraph.config import ConfigError

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - evaluates settings, so config errors surface here
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)

    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    # Only a checkout on the embedded servers asks the development tooling (tools/devstack) whether they run;
    # production names its servers, so it never imports tools/ and may ship without it.
    embedded = any(settings.EMBEDDED_SERVERS.values())
    if embedded and command not in OFFLINE_COMMANDS and not command.startswith("-"):
        from tools.devstack.servers import embedded_servers_missing

        missing = embedded_servers_missing(settings)
        if missing:
            sys.stderr.write(
                f"the embedded {' and '.join(missing)} server{'s are' if len(missing) > 1 else ' is'} not running: "
                "start them with `python manage.py devstack up` (or `make run`), "
                "or set DATABASE_URL / REDIS_URL / GRAPH_URL to your own servers\n"
            )
            sys.exit(2)

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
