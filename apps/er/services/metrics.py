"""Entity resolution's Prometheus counters, counted only once the transaction that did the work commits."""

from __future__ import annotations

from django.db import transaction
from prometheus_client import Counter, Gauge

# rate(ig_er_merges_total[1h]) is the materialisation rate.
ER_MERGES = Counter("ig_er_merges_total", "Merges materialised by entity resolution.", ["tenant", "how"])
ER_ROLLBACKS = Counter("ig_er_rollbacks_total", "Merges undone by rollback.", ["tenant"])
ER_DECISIONS = Counter("ig_er_decisions_total", "Reviewer decisions on candidate pairs.", ["tenant", "decision"])


def count_on_commit(counter: Counter, *labels: str) -> None:
    """Add one to the counter when the current transaction commits (nothing, if it rolls back)."""
    transaction.on_commit(lambda: counter.labels(*labels).inc())


# Read when /metrics is scraped (``ErConfig.ready`` registers ``outbox_gauges``): a backlog that grows means the
# online path is behind (workers down, a lost wake-up the beat safety net has not caught yet).
ER_OUTBOX_PENDING = Gauge(
    "ig_er_outbox_pending", "Outbox rows waiting for online entity resolution.", multiprocess_mode="mostrecent"
)
ER_OUTBOX_AGE = Gauge(
    "ig_er_outbox_oldest_seconds",
    "Age of the oldest outbox row waiting for online entity resolution (0 when none).",
    multiprocess_mode="mostrecent",
)


def outbox_gauges() -> None:
    from apps.er.online import outbox_lag  # models: not importable while apps load

    lag = outbox_lag()
    ER_OUTBOX_PENDING.set(lag["pending"])
    ER_OUTBOX_AGE.set(lag["oldest_seconds"])
