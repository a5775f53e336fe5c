"""pytest plugin (``-p tools.devstack.pytest_plugin``): start the embedded servers before Django's settings load.

Settings read the embedded servers' ports at import, and pytest-django imports
settings while loading conftests, so this hook must run first.
"""

import os

import pytest

from tools.devstack import servers


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    os.environ.setdefault("DJANGO_ENV", "test")
    if all(os.environ.get(name) for name in ("DATABASE_URL", "REDIS_URL", "GRAPH_URL")):
        return
    try:
        servers.ensure_up_quiet()
    except servers.DevstackError as exc:
        raise pytest.UsageError(f"embedded servers could not start: {exc}") from None
