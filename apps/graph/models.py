"""The graph projection's share of core's transactional outbox (``apps.core.models.OutboxEvent``).

A row says "this entity or relationship changed"; core writes it in the same PostgreSQL transaction as the
change, so the projection can never miss a committed write. The drain reads the row's *current* state when it
applies it, so applying a row twice, or late, is harmless.
"""

from django.db import models

from apps.core.choices import OutboxConsumer
from apps.core.models import OutboxEvent as CoreOutboxEvent


class GraphOutboxManager(models.Manager):
    """Only the rows addressed to the graph projection (the outbox holds one row per consumer)."""

    def get_queryset(self):
        return super().get_queryset().filter(consumer=OutboxConsumer.GRAPH)


class OutboxEvent(CoreOutboxEvent):
    """The outbox rows the graph drain applies, and that ``graph_rebuild`` drops once a snapshot contains them."""

    objects = GraphOutboxManager()

    class Meta:
        proxy = True
        verbose_name = "graph outbox event"
