"""Entity resolution's Prometheus counters, counted only once the transaction that did the work commits."""

from __future__ import annotations

from django.db import transaction
from prometheus_client import Counter

# rate(ig_er_merges_total[1h]) is the materialisation rate.
ER_MERGES = Counter("ig_er_merges_total", "Merges materialised by entity resolution.", ["tenant", "how"])
ER_ROLLBACKS = Counter("ig_er_rollbacks_total", "Merges undone by rollback.", ["tenant"])
ER_DECISIONS = Counter("ig_er_decisions_total", "Reviewer decisions on candidate pairs.", ["tenant", "decision"])


def count_on_commit(counter: Counter, *labels: str) -> None:
    """Add one to the counter when the current transaction commits (nothing, if it rolls back)."""
    transaction.on_commit(lambda: counter.labels(*labels).inc())
