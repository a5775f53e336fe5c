"""The transactional outbox that feeds the graph projection.

A row says "this entity or relationship changed"; it is written in the same PostgreSQL
transaction as the change, so the projection can never miss a committed write. The drain
reads the row's *current* state when it applies it, so applying a row twice, or late, is harmless.
"""

from django.db import models


class OutboxEvent(models.Model):
    class Kind(models.TextChoices):
        ENTITY = "entity", "Entity"
        RELATIONSHIP = "relationship", "Relationship"

    class Op(models.TextChoices):
        UPSERT = "upsert", "Created or changed"
        DELETE = "delete", "Deleted"

    id = models.BigAutoField(primary_key=True)
    tenant_id = models.BigIntegerField(help_text="Tenant of the changed record (no foreign key: rows outlive it).")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    object_id = models.UUIDField()
    op = models.CharField(max_length=8, choices=Op.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts to apply this row.")
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "graph outbox event"

    def __str__(self) -> str:
        return f"{self.op} {self.kind} {self.object_id}"
