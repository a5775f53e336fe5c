from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.audit.errors import AuditImmutableError


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditImmutableError("audit events cannot be updated")

    def delete(self):
        raise AuditImmutableError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One thing that happened, for auditors: append-only, signed on append, sealed into the Merkle log.

    ``record`` writes it in the caller's transaction with no lock: ``seq`` (its number, from a sequence: unique
    and increasing in append order, with gaps where a transaction rolled back; equal to ``id``), ``xid`` (the
    inserting transaction, which a trigger sets) and ``confirms`` (earlier events of the same process known to
    have committed) are part of what is signed. ``hash`` is the SHA-256 of the canonical form
    (``services.canonical_bytes``), ``signature`` its Ed25519 signature by key ``key_id``.

    The event gets its position in the log later, from the sealer (``AuditPosition``), which seals batches
    under signed checkpoints (``AuditCheckpoint``). Events from before the Merkle log (``version`` 1) were
    hash-chained: ``seq`` is their place in that chain and ``prev_hash`` the hash of event ``seq - 1``; they
    are the log's first segment. A database trigger refuses UPDATE and DELETE.
    """

    seq = models.BigIntegerField(unique=True, editable=False)
    version = models.PositiveSmallIntegerField(
        default=2, editable=False, help_text="1: hash-chained (before the Merkle log); 2: sealed by the sealer."
    )
    xid = models.BigIntegerField(
        null=True,
        editable=False,
        help_text="The inserting transaction (pg_current_xact_id): the sealer takes events whose transaction and "
        "every older one have finished. Empty for version 1 events.",
    )
    created_at = models.DateTimeField(editable=False)
    # No index of its own: audit_tenant_created_idx leads with it.
    tenant = models.ForeignKey(
        "core.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    actor = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who acted, as it read at the time.")
    event_type = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    confirms = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        editable=False,
        help_text="Numbers of earlier events this process appended and saw commit: the sealer reports any of them "
        "missing (deleted before it was sealed).",
    )
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    signature = models.CharField(max_length=128, editable=False)
    key_id = models.CharField(max_length=16, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        # Every index is paid for by every append. hash and event_type are indexed here, not with unique=True /
        # db_index=True on the field, because on PostgreSQL those add a second, varchar_pattern_ops index for
        # LIKE 'prefix%', which nothing here asks (the admin's search is icontains).
        constraints = [models.UniqueConstraint(fields=["hash"], name="audit_event_hash_unique")]
        indexes = [
            models.Index(fields=["event_type"], name="audit_event_type_idx"),
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_created_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["xid", "seq"], name="audit_xid_seq_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutableError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutableError("audit events cannot be deleted")


class AuditPosition(models.Model):
    """An event's place in the Merkle log, given by the sealer: position ``position`` (1-based) is leaf
    ``position - 1`` of the tree, ``leaf_hash`` = SHA-256(0x00 || the event's hash).

    Append-only, like the events (a trigger refuses UPDATE and DELETE). ``event_seq`` is a number, not a foreign
    key, so a purge of whole sealed segments can remove events while their leaves keep the tree provable.
    A ``missing`` position stands for an event the sealer found confirmed by a later one but deleted before it
    could be sealed: its leaf is the hash of that finding, and verification reports the position.
    """

    KIND_EVENT = "event"
    KIND_MISSING = "missing"

    position = models.BigIntegerField(primary_key=True)
    event_seq = models.BigIntegerField(unique=True)
    leaf_hash = models.BinaryField()
    kind = models.CharField(
        max_length=8, default=KIND_EVENT, choices=[(KIND_EVENT, "event"), (KIND_MISSING, "missing")]
    )
    confirmed_by = models.BigIntegerField(null=True, blank=True, help_text="For a missing event: who confirmed it.")

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"position {self.position}: event #{self.event_seq}"


class AuditCheckpoint(models.Model):
    """A signed statement of the log's state: its first ``size`` positions have Merkle root ``root_hash``.

    The sealer writes one at the end of every batch, in the batch's transaction (a batch is sealed exactly when
    its checkpoint exists). ``horizon``: every event whose transaction id is below it is sealed at or before
    this checkpoint, and the positions after the previous checkpoint hold exactly the events with ids from the
    previous horizon up to this one (0 for the segment of hash-chained events adopted from before the Merkle
    log). ``signature`` is Ed25519 by ``key_id`` over ``services.checkpoint_document`` (format, origin, size,
    root, time, horizon, key id), the same document the checkpoint file and every proof carry.
    """

    size = models.BigIntegerField(unique=True)
    origin = models.CharField(max_length=200, help_text="The log's name (AUDIT_LOG_ORIGIN when it was signed).")
    root_hash = models.CharField(max_length=64)
    horizon = models.BigIntegerField()
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["-size"]

    def __str__(self) -> str:
        return f"checkpoint at {self.size}"


class AuditTreeNode(models.Model):
    """The root of a perfect subtree of the Merkle log, ``2 ** level`` leaves from leaf ``index << level``.

    The sealer stores every one at level 8 (256 leaves) and above as it completes them, so a proof reads about
    log2(n) rows and at most two runs of 255 leaves instead of the whole log; below that level proofs hash the
    leaves. Append-only; a changed node can only make a proof fail, never pass.
    """

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="audit_treenode_unique")]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


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


class AuditRetentionOverride(models.Model):
    """A tenant keeps one event type longer than its class in ``apps.audit.catalogue`` says (never shorter:
    ``apps.compliance.services.retention_override_set`` refuses that)."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=100)
    retention = models.CharField(max_length=20, help_text="The retention class this tenant keeps the type under.")
    reason = models.TextField()
    created_by = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant", "event_type"]
        constraints = [models.UniqueConstraint(fields=["tenant", "event_type"], name="audit_retention_override_unique")]

    def __str__(self) -> str:
        return f"{self.event_type}: {self.retention}"


class LegalHold(models.Model):
    """Audit events no purge may remove while the hold is active: those of a tenant (or, placed by a superuser,
    of every tenant), optionally only about one target and only from a time range.

    Active from ``placed_at`` until ``lifted_at`` (lifted by compliance staff, with a reason) or ``until`` (an end
    date, or none). Placing and lifting go through ``apps.compliance.services`` and are audited.
    """

    tenant = models.ForeignKey(
        "core.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: every tenant.",
    )
    target_type = models.CharField(max_length=100, blank=True, help_text="e.g. core.entity; empty: any target.")
    target_id = models.CharField(max_length=200, blank=True, help_text="The target's id; empty: any of the type.")
    events_from = models.DateTimeField(null=True, blank=True, help_text="Events from this time on (empty: all).")
    events_until = models.DateTimeField(null=True, blank=True, help_text="Events up to this time (empty: all).")
    reason = models.TextField(help_text="Why (a matter, a request, a case number).")
    until = models.DateTimeField(null=True, blank=True, help_text="The hold ends by itself then; empty: when lifted.")
    placed_by = models.ForeignKey("core.User", null=True, on_delete=models.SET_NULL, related_name="+")
    placed_at = models.DateTimeField()
    lifted_by = models.ForeignKey("core.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at"]

    def __str__(self) -> str:
        return f"legal hold #{self.pk}"

    def active(self, now) -> bool:
        return self.lifted_at is None and self.placed_at <= now and (self.until is None or self.until > now)

    def covers(self, *, tenant_id, target_type: str, target_id: str, created_at) -> bool:
        """Whether this hold's scope takes in an event with these fields (whether it is active: ``active``)."""
        if self.tenant_id is not None and tenant_id != self.tenant_id:
            return False
        if self.target_type and target_type != self.target_type:
            return False
        if self.target_id and target_id != self.target_id:
            return False
        if self.events_from is not None and created_at < self.events_from:
            return False
        return not (self.events_until is not None and created_at > self.events_until)


class AuditTombstone(models.Model):
    """What is left of sealed segments the retention purge removed: positions ``first``..``last`` (whole
    segments, each ending in its checkpoint, which stays), ``count`` events deleted, ``leaves_root`` the Merkle
    root of those positions' leaves (which stay too, so every later proof and checkpoint still verifies), the
    time range of the events, and an Ed25519 signature by ``key_id`` over ``services.tombstone_document``.

    ``audit_verify`` checks each tombstone's signature and its range against the leaves and checkpoints, then the
    log's continuity across it. Append-only.
    """

    first = models.BigIntegerField(unique=True)
    last = models.BigIntegerField(unique=True)
    count = models.BigIntegerField()
    leaves_root = models.CharField(max_length=64)
    events_from = models.DateTimeField()
    events_until = models.DateTimeField()
    purged_at = models.DateTimeField()
    origin = models.CharField(max_length=200)
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["first"]

    def __str__(self) -> str:
        return f"purged positions {self.first}..{self.last}"
