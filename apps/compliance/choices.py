"""Choices of the compliance app."""

from django.db import models


class AccessReviewStatus(models.TextChoices):
    OPEN = "open", "open"
    CLOSED = "closed", "closed"


class AccessItemKind(models.TextChoices):
    """What kind of access an item of a review is."""

    MEMBERSHIP = "membership", "membership (role, clearance, compartments)"
    GRANT = "grant", "object grant"
    TOKEN = "token", "API token"
    STAFF = "staff", "staff flag"
    SUPERUSER = "superuser", "superuser flag"


class AccessDecision(models.TextChoices):
    PENDING = "pending", "pending"
    CERTIFIED = "certified", "certified"
    REVOKED = "revoked", "revoked"
    MODIFIED = "modified", "modified"


class AccessFinding(models.TextChoices):
    """Orphans the review flags at launch, for the reviewer to look at first."""

    NEVER_LOGGED_IN = "never-logged-in", "never signed in"
    TOKEN_UNUSED = "token-unused-90d", "token unused for 90 days"
    NO_ROLE = "no-role", "no role in any tenant"
    OUTSIDE_TENANT = "outside-tenant", "granted to someone outside the tenant"
