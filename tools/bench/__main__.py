"""Run a benchmark: ``python -m tools.bench {access,search,graph,er,audit,restore,finops} [options]`` (what ``make bench-*`` runs).

The benchmarks are Django management command classes that no installed app registers. This entry
point prepares the process as ``manage.py`` does (settings, the shared metrics folder, the embedded
servers' check), sets Django up and runs the chosen command's ``Command`` directly, so its options,
``--help``, output, errors and exit status are those of a management command.
"""

import importlib
import os
import sys
from pathlib import Path

PROG = "python -m tools.bench"
BENCHMARKS = {
    "access": "tools.bench.commands.access",
    "search": "tools.bench.commands.search",
    "graph": "tools.bench.commands.graph",
    "er": "tools.bench.commands.er",
    "audit": "tools.bench.commands.audit",
    "restore": "tools.bench.commands.restore",
    "finops": "tools.bench.commands.finops",
}
ROOT = Path(__file__).resolve().parents[2]
HELP = {"-h", "--help"}


def _usage() -> str:
    return (
        f"usage: {PROG} {{{','.join(BENCHMARKS)}}} [options]\n"
        f"  `{PROG} NAME --help` lists a benchmark's options; `make bench-NAME BENCH_ARGS=...` passes them\n"
    )


def _prepare(*, check_servers: bool) -> None:
    """What manage.py does before a command: settings, metrics folder, embedded servers; then django.setup()."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intelgraph.settings")
    # As for every process manage.py starts: metrics go to var/prometheus (the benchmarks' uvicorn servers too).
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        var = Path(os.environ.get("IG_VAR_DIR") or ROOT / "var").resolve()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(var / "prometheus")
    try:
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    except OSError:  # a read-only file system: each process keeps its own metrics
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    from intelgraph.config import ConfigError

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - evaluates settings, so config errors surface here
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    if check_servers:
        from tools.devstack.servers import embedded_servers_missing

        missing = embedded_servers_missing(settings)
        if missing:
            sys.exit(
                f"the embedded {' and '.join(missing)} server{'s are' if len(missing) > 1 else ' is'} not running: "
                "start them with `python manage.py devstack up` (or `make servers-up`), "
                "or set DATABASE_URL / REDIS_URL / GRAPH_URL to your own servers"
            )
    import django

    django.setup()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in HELP:
        (sys.stdout if argv else sys.stderr).write(_usage())
        sys.exit(0 if argv else 2)
    name, options = argv[0], argv[1:]
    if name not in BENCHMARKS:
        sys.stderr.write(f"unknown benchmark {name!r}\n" + _usage())
        sys.exit(2)
    _prepare(check_servers=not HELP & set(options))
    command = importlib.import_module(BENCHMARKS[name]).Command()
    command.run_from_argv([PROG, name, *options])


if __name__ == "__main__":
    main()
