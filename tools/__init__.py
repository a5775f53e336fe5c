"""Development tooling, kept outside the runtime package: benchmark harnesses and test support.

Nothing in ``apps/`` or ``intelgraph/`` imports from here, and ``INSTALLED_APPS`` does not list it.
"""
