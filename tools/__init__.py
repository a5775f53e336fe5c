"""Development tooling, kept outside the runtime package: embedded servers, benchmark harnesses, test support.

Nothing in ``apps/`` or ``intelgraph/`` imports from here (``.importlinter`` checks it), except the two
development commands ``manage.py devstack`` and ``manage.py run``, thin shims over ``tools.devstack``;
``INSTALLED_APPS`` does not list it, and production runs without it.
"""
