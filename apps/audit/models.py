from django.db import models

from apps.audit.errors import AuditImmutableError


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditImmutableError("audit events cannot be updated")

    def delete(self):
        raise AuditImmutableError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One thing that happened, for auditors: append-only, hash-chained and signed.

    ``seq`` numbers events without gaps; ``prev_hash`` is the ``hash`` of event
    ``seq - 1``; ``hash`` is the SHA-256 of this event's canonical form and
    ``signature`` is its Ed25519 signature by key ``key_id``. A changed,
    removed or inserted row breaks the chain, which ``manage.py audit_verify``
    reports. A database trigger also refuses UPDATE and DELETE; a checkpoint file outside
    the database catches a log shortened or rewritten since it was last verified.
    """

    seq = models.BigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(editable=False)
    tenant = models.ForeignKey("core.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who acted, as it read at the time.")
    event_type = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)
    signature = models.CharField(max_length=128, editable=False)
    key_id = models.CharField(max_length=16, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_created_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutableError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutableError("audit events cannot be deleted")


class AuditSigningKey(models.Model):
    """A public key that has signed audit events: an informational registry shown in the admin.

    Verification never trusts it (it lives in the database it would vouch for); trusted keys come from
    AUDIT_TRUSTED_KEYS / AUDIT_TRUSTED_KEYS_FILE and the installation's own signing key.
    """

    key_id = models.CharField(max_length=16, unique=True)
    public_key = models.CharField(max_length=64, help_text="Raw Ed25519 public key, hex.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key_id
