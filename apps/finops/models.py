"""FinOps records (plan epic F): the rate card, metered usage per tenant and day, budgets with caps per category
and alert thresholds, the alerts sent, and overage requests.

Usage is counted in Redis on the request path and folded into ``UsageDaily`` in batches (``metering``); a fold
is recorded in ``MeterFold`` in the same transaction as the quantities it adds, so a batch folded twice (a worker
killed after its commit, before it deleted the batch from Redis) is added once. Costs are never stored: they are
usage times the rate in force on the day of use (``selectors.costs``), so a new rate changes only the days it covers.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from apps.finops.choices import CapAction, Category, Feature, OverageStatus, Period, Unit

MONEY = {"max_digits": 14, "decimal_places": 4}
DEFAULT_THRESHOLDS = [50, 80, 95, 100]


def _default_thresholds() -> list[int]:
    return list(DEFAULT_THRESHOLDS)


def validate_thresholds(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one alert threshold, e.g. [50, 80, 95, 100].", code="thresholds")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ValidationError(f"Thresholds are whole percentages; {item!r} is not.", code="thresholds")
        if not 1 <= item <= 100:
            raise ValidationError(f"A threshold is between 1% and 100%; {item}% is not.", code="thresholds")
    if len(set(value)) != len(value):
        raise ValidationError("Each threshold once.", code="thresholds")


class Rate(models.Model):
    """The price of a unit of a feature (optionally of one LLM model), in force from a date (UTC) until the next
    rate of the same feature, unit and model. Rates in force are never edited: a new price gets a new row."""

    feature = models.CharField(max_length=20, choices=Feature.choices)
    unit = models.CharField(max_length=16, choices=Unit.choices)
    model = models.CharField(
        max_length=80, blank=True, help_text="An LLM model name; blank: every model without a rate of its own."
    )
    price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal(0))], help_text="Price per quantity.")
    per = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="The quantity the price is for: 1,000 searches, 1 CPU-second, 1,000,000 tokens, 30 GB-days.",
    )
    effective_from = models.DateField(help_text="First day (UTC) the price applies to.")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["feature", "unit", "model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "unit", "model", "effective_from"], name="finops_rate_once_a_day"
            ),
        ]

    def __str__(self):
        model = f" ({self.model})" if self.model else ""
        return (
            f"{self.get_feature_display()} per {self.per:,} {self.get_unit_display()}{model} from {self.effective_from}"
        )


class UsageDaily(models.Model):
    """What one tenant used of one feature on one day (UTC), folded from the Redis counters."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    feature = models.CharField(max_length=20, choices=Feature.choices)
    unit = models.CharField(max_length=16, choices=Unit.choices)
    model = models.CharField(max_length=80, blank=True)
    quantity = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    estimated = models.DecimalField(
        max_digits=24,
        decimal_places=6,
        default=0,
        help_text="Of the quantity, how much was estimated (no usage reported).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "usage (daily)"
        ordering = ["-day", "tenant_id", "feature", "unit", "model"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day", "feature", "unit", "model"], name="finops_usage_once"),
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="finops_usage_tenant_day")]

    def __str__(self):
        return f"{self.tenant_id} {self.day} {self.feature} {self.quantity} {self.unit}"


class MeterFold(models.Model):
    """One batch of Redis counters folded into ``UsageDaily`` (its Redis key), written in the same transaction."""

    key = models.CharField(max_length=80, unique=True)
    fields = models.PositiveIntegerField(default=0)
    folded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.key} ({self.fields} fields)"


class Budget(models.Model):
    """A tenant's spending limits for each period: a total cap, caps per category, alert thresholds."""

    tenant = models.OneToOneField("core.Tenant", on_delete=models.CASCADE, related_name="budget")
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTHLY)
    total_cap = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal(0))],
        help_text="Total spend per period (in FINOPS_CURRENCY); blank: no total cap.",
    )  # fmt: skip
    total_action = models.CharField(
        max_length=8,
        choices=CapAction.choices,
        default=CapAction.BLOCK,
        help_text="What happens at 100% of the total cap.",
    )
    thresholds = models.JSONField(
        default=_default_thresholds,
        validators=[validate_thresholds],
        help_text="Alert at these percentages of each cap, once per period (e.g. [50, 80, 95, 100]).",
    )
    forecast_alerts = models.BooleanField(
        default=True, help_text="Alert once per period when the burn rate would reach a cap before the period ends."
    )
    alert_emails = models.CharField(
        max_length=500, blank=True, help_text="Also e-mail these addresses (comma-separated) besides the operators."
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["tenant__slug"]

    def __str__(self):
        return f"budget of {self.tenant}"

    def emails(self) -> list[str]:
        return [item.strip() for item in self.alert_emails.split(",") if item.strip()]

    def clean(self):
        super().clean()
        from django.core.validators import validate_email

        for address in self.emails():
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError({"alert_emails": f"Not an e-mail address: {address!r}."}) from None


class BudgetCap(models.Model):
    """A cap on one category's spend per period, and what happens at 100%."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="caps")
    category = models.CharField(max_length=10, choices=Category.choices)
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal(0))])
    action = models.CharField(max_length=8, choices=CapAction.choices, default=CapAction.BLOCK)
    history = HistoricalRecords()

    class Meta:
        ordering = ["category"]
        constraints = [models.UniqueConstraint(fields=["budget", "category"], name="finops_cap_once_per_category")]

    def __str__(self):
        return f"{self.get_category_display()} cap {self.amount}"


class BudgetAlert(models.Model):
    """An alert sent for a budget, scope, threshold and period: the unique row is what makes it once."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="budget_alerts")
    scope = models.CharField(max_length=10, help_text="total, or a category")
    kind = models.CharField(max_length=10, default="threshold", help_text="threshold or forecast")
    threshold = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    period_start = models.DateField()
    spent = models.DecimalField(**MONEY)
    cap = models.DecimalField(**MONEY)
    message = models.TextField(blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "scope", "kind", "threshold", "period_start"], name="finops_alert_once"
            )
        ]

    def __str__(self):
        return f"{self.tenant} {self.scope} {self.kind} {self.threshold}% ({self.period_start:%Y-%m})"


class OverageRequest(models.Model):
    """A tenant user asks to raise a cap for a while; another person approves (with an amount and an expiry)."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="overage_requests")
    scope = models.CharField(max_length=10, default="total", help_text="total, or a category")
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.01"))], help_text="Raise asked for.")
    reason = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=OverageStatus.choices, default=OverageStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    approved_amount = models.DecimalField(**MONEY, null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="The raise lapses by itself at this time.")
    decision_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return f"raise of {self.amount} ({self.scope}) for {self.tenant}: {self.status}"

    def active_at(self, moment: datetime.datetime) -> bool:
        return self.status == OverageStatus.APPROVED and self.expires_at is not None and moment < self.expires_at


class LlmReservation(models.Model):
    """The most an LLM call in flight may cost, held against the tenant's caps until its real usage is known.
    Taken under a per-tenant lock, so parallel calls at the cap never pass it by more than one call's maximum;
    a reservation whose call died is ignored once it expires. A settled call keeps its row for a minute with its
    real cost (``settled_at`` set): the gateway checks calls against a spend snapshot a few seconds old, and
    adds what was settled since it was taken (apps.finops.gateway)."""

    tenant = models.ForeignKey("core.Tenant", on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=80)
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "expires_at"], name="finops_reservation_live")]

    def __str__(self):
        return f"{self.amount} for {self.model} ({self.tenant_id})"
