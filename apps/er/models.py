"""Entity resolution: the model registry, per-tenant pins and thresholds, candidate pairs and the reviewers'
decisions, durable never-merge constraints, and merges that can be rolled back exactly.

Docs: docs/er.md (engine), docs/er-operations.md (registry, rollout, merges and rollback).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from apps.er.choices import PairStatus, PinMode


class ModelArtifact(models.Model):
    """An immutable, content-addressed scoring model: ``sha256`` is the SHA-256 of its canonical bytes."""

    sha256 = models.CharField(max_length=64, unique=True, editable=False)
    model_id = models.CharField(max_length=100, help_text="Human name, e.g. 'fs-default'.")
    uri = models.CharField(max_length=500, editable=False, help_text="Where the bytes are stored (storage name).")
    size = models.PositiveIntegerField(editable=False)
    metadata = models.JSONField(
        default=dict, editable=False, help_text="Features, training data hash, code version, evaluation metrics."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "model artifact"

    def __str__(self) -> str:
        return f"{self.model_id} ({self.sha256[:12]})"


class ModelPin(models.Model):
    """One step of a rollout: from now on, ``tenant`` (or every tenant, when empty: general availability)
    uses ``artifact`` in ``mode``. Rows are never changed; the newest per (tenant, mode) is in force, and a
    revert adds a row pointing at the previous artifact, so the history is the table itself."""

    tenant = models.ForeignKey(
        "core.Tenant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: the default for all tenants without their own pin (GA).",
    )
    artifact = models.ForeignKey(
        ModelArtifact,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pins",
        help_text="Empty: unpinned (shadow off, or back to the GA default).",
    )
    mode = models.CharField(max_length=8, choices=PinMode.choices, default=PinMode.ACTIVE)
    stage = models.CharField(max_length=16, blank=True, help_text="shadow, canary or ga, as the rollout saw it.")
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "model pin"

    def __str__(self) -> str:
        where = self.tenant.slug if self.tenant_id else "all tenants"
        return f"{where}: {self.artifact or 'unpinned'} ({self.mode})"


class TenantERSettings(models.Model):
    """A tenant's thresholds: at or above ``auto_merge_threshold`` pairs merge by themselves (with a purpose);
    between ``review_threshold`` and it they wait in the decision center; below they are dropped."""

    tenant = models.OneToOneField("core.Tenant", on_delete=models.CASCADE, related_name="er_settings")
    auto_merge_threshold = models.FloatField(default=0.97)
    review_threshold = models.FloatField(default=0.60)
    auto_merge_enabled = models.BooleanField(
        default=True, help_text="Off: every candidate above the review threshold waits for a reviewer."
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "tenant ER settings"
        verbose_name_plural = "tenant ER settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(review_threshold__gte=0, auto_merge_threshold__lte=1)
                & Q(review_threshold__lt=F("auto_merge_threshold")),
                name="er_thresholds_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant}: review ≥ {self.review_threshold:.2f}, auto ≥ {self.auto_merge_threshold:.2f}"


class CandidatePair(models.Model):
    """Two entities the engine thinks may be the same, with the score, its explanation and what was decided."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="+")
    entity_a = models.ForeignKey("core.Entity", on_delete=models.CASCADE, related_name="+")
    entity_b = models.ForeignKey("core.Entity", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(help_text="Match probability 0-1.")
    model_sha = models.CharField(max_length=64, blank=True, help_text="Model that scored it; empty for rules.")
    by_rules = models.BooleanField(default=False, help_text="Scored by the deterministic rules (model unavailable).")
    explanation = models.JSONField(default=list, help_text="Per-feature contributions: [[feature, level, weight]].")
    shadow_score = models.FloatField(null=True, blank=True)
    shadow_model_sha = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=PairStatus.choices, default=PairStatus.PENDING, db_index=True)
    reason = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "candidate pair"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "entity_a", "entity_b"], name="er_pair_once"),
            models.CheckConstraint(condition=Q(entity_a__lt=F("entity_b")), name="er_pair_ordered"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "-score"], name="er_pair_queue_idx")]

    def __str__(self) -> str:
        return f"{self.entity_a_id} ~ {self.entity_b_id} ({self.score:.3f}, {self.status})"


class NeverMerge(models.Model):
    """A reviewer's rejection that lasts: no batch run, online score or rollback merges these two again."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="+")
    entity_a = models.ForeignKey("core.Entity", on_delete=models.CASCADE, related_name="+")
    entity_b = models.ForeignKey("core.Entity", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "never-merge constraint"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "entity_a", "entity_b"], name="er_never_once"),
            models.CheckConstraint(condition=Q(entity_a__lt=F("entity_b")), name="er_never_ordered"),
        ]

    def __str__(self) -> str:
        return f"never merge {self.entity_a_id} and {self.entity_b_id}"


class Merge(models.Model):
    """One materialised merge: ``members`` were merged into ``canonical``. ``snapshot`` is the exact prior state
    of every row the merge changed (entities and relationships), so a rollback restores it in one transaction;
    ``checksum_before`` is that state's checksum, checked again after a rollback."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="+")
    # No database constraint: the history outlives a canonical entity that a rollback deletes.
    canonical = models.ForeignKey("core.Entity", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    created_canonical = models.BooleanField(help_text="The merge created the canonical entity (rollback deletes it).")
    members = ArrayField(models.UUIDField(), help_text="Entities merged into the canonical one by this merge.")
    snapshot = models.JSONField(editable=False)
    checksum_before = models.CharField(max_length=64, editable=False)
    pair = models.ForeignKey(CandidatePair, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_sha = models.CharField(max_length=64, blank=True)
    by_rules = models.BooleanField(default=False)
    score = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    automatic = models.BooleanField(default=False)
    purpose = models.CharField(max_length=40)
    policy_bundle = models.CharField(max_length=64, blank=True)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    rolled_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rollback_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "model_sha"], name="er_merge_model_idx")]

    def __str__(self) -> str:
        state = "rolled back" if self.rolled_back_at else "in force"
        return f"merge of {len(self.members)} into {self.canonical_id} ({state})"
