"""Choices of the ER models: how a pinned model is used, and where a candidate pair stands."""

from django.db import models


class PinMode(models.TextChoices):
    ACTIVE = "active", "Active (decides merges)"
    SHADOW = "shadow", "Shadow (scores recorded, nothing materialises)"


class PairStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    DEFERRED = "deferred", "Deferred"
    APPROVED = "approved", "Approved (merged)"
    AUTO_MERGED = "auto_merged", "Merged automatically"
    REJECTED = "rejected", "Rejected (never merge)"
    SHADOW = "shadow", "Shadow score only"
    UNDONE = "undone", "Merge rolled back"
