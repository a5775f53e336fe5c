"""Access reviews: what a tenant's people and integrations could do, frozen at launch, and who decided what.

A review (``AccessReview``) is one tenant's quarterly campaign. At launch it freezes its population: every
membership with its role, clearance and compartments, every object grant on the tenant's records, every active
API token of its members, every staff or superuser flag among them, one ``AccessReviewItem`` each, with what the
access was at that moment (``access``). Changes made afterwards do not alter what is under review. Reviewers
certify, revoke or modify each item with a reason; a revocation or modification is applied at once through the
services. The review closes only when no item is pending.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models

from apps.compliance.choices import AccessDecision, AccessItemKind, AccessReviewStatus

quarter_validator = RegexValidator(r"^\d{4}-Q[1-4]$", "Give a quarter such as 2026-Q4.")


class AccessReview(models.Model):
    """One tenant's access review for one quarter (the plan's quarterly access review, SOC 2 CC6.2 and CC6.3)."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.PROTECT, related_name="access_reviews")
    period = models.CharField(max_length=7, validators=[quarter_validator], help_text="The quarter, e.g. 2026-Q4.")
    status = models.CharField(max_length=8, choices=AccessReviewStatus.choices, default=AccessReviewStatus.OPEN)
    launched_at = models.DateTimeField()
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField(help_text="Every item decided by then, or the review is overdue.")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When reviewers were last reminded.")
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-launched_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period"],
                name="access_review_one_per_quarter",
                violation_error_message="This tenant's review of that quarter was launched already: a quarter has one "
                "review.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.period}"


class AccessReviewItem(models.Model):
    """One access under review: who held what at launch, the findings about it, and the decision."""

    review = models.ForeignKey(AccessReview, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=12, choices=AccessItemKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    holder = models.CharField(max_length=200, help_text="Whose access, as it read at launch (user or group).")
    object_id = models.CharField(max_length=64, help_text="The membership, grant, token or user it is about.")
    access = models.JSONField(help_text="The access at launch: role, clearance, compartments; the token; the flag.")
    findings = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    decision = models.CharField(max_length=12, choices=AccessDecision.choices, default=AccessDecision.PENDING)
    reason = models.TextField(blank=True)
    change = models.JSONField(default=dict, blank=True, help_text="A modification: the new role or clearance.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["review", "kind", "holder", "object_id"]
        constraints = [models.UniqueConstraint(fields=["review", "kind", "object_id"], name="access_review_item_once")]
        indexes = [models.Index(fields=["review", "decision"], name="access_review_item_open_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.holder}"


class Control(models.Model):
    """A SOC 2 control as this product meets it (``control_library``): its evidence sources are computed live by
    ``apps.compliance.health``. Rows follow the library (``controls_sync``); they are not edited by hand."""

    code = models.CharField(max_length=16, unique=True, help_text="The criterion, e.g. CC6.2.")
    category = models.CharField(max_length=100)
    title = models.CharField(max_length=200)
    description = models.TextField(help_text="What the control means here, in our own words.")
    owner = models.CharField(max_length=40, help_text="Who answers for it: compliance, security, engineering, sre.")
    frequency = models.CharField(max_length=16, help_text="How often its evidence is expected.")
    sources = ArrayField(models.CharField(max_length=40), default=list, help_text="Evidence sources (health).")
    library_version = models.CharField(max_length=20)
    is_active = models.BooleanField(default=True, help_text="Off when a later library version dropped it.")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class ControlApplicability(models.Model):
    """A tenant's Statement of Applicability entry: a control excluded for the tenant, with the reason. A control
    with no row is applicable."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="+")
    control = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="applicability")
    applicable = models.BooleanField(default=True)
    reason = models.TextField(blank=True, help_text="Why it is excluded (required then).")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "control"]
        constraints = [models.UniqueConstraint(fields=["tenant", "control"], name="control_applicability_once")]
        verbose_name_plural = "control applicability"

    def __str__(self) -> str:
        return f"{self.control.code} for {self.tenant}: {'applicable' if self.applicable else 'excluded'}"


class ControlAttestation(models.Model):
    """Compliance staff's statement that a control the product cannot measure was met over a period (a policy
    reviewed, a risk assessment held), with the document's SHA-256. Evidence whose effective period is the period
    it proves, not the day it was recorded."""

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="attestations")
    tenant = models.ForeignKey(
        "core.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Empty: all."
    )
    statement = models.TextField(help_text="What was done, e.g. 'Code of conduct re-accepted by all staff'.")
    document_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the supporting document.")
    effective_from = models.DateField()
    effective_until = models.DateField()
    attested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    attested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_until"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(effective_until__gte=models.F("effective_from")), name="attestation_period_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.control.code} attested {self.effective_from}..{self.effective_until}"


class EvidenceBundle(models.Model):
    """An evidence bundle (v4) asked for in the admin: built by a Celery task (``bundle``), its progress shown
    live, the signed zip kept under MEDIA_ROOT for download."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    tenant = models.ForeignKey(
        "core.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Empty: all."
    )
    period = models.CharField(max_length=7, validators=[quarter_validator], help_text="The quarter, e.g. 2026-Q4.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to="evidence/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    gaps = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"evidence {self.tenant or 'all tenants'} {self.period}"
