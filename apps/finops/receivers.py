"""Signal receivers: a budget, cap or raise saved anywhere is seen by the next LLM call of every process (the
gateway compares the tenant's limits version in Redis, ``gateway.limits_changed``)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.finops.models import Budget, BudgetCap, OverageRequest, Rate


@receiver([post_save, post_delete], sender=Budget)
@receiver([post_save, post_delete], sender=OverageRequest)
def _tenant_limits_changed(sender, instance, **kwargs):
    from apps.finops import gateway

    gateway.limits_changed(instance.tenant_id)


@receiver([post_save, post_delete], sender=BudgetCap)
def _cap_changed(sender, instance, **kwargs):
    from apps.finops import gateway

    tenant_id = Budget.objects.filter(pk=instance.budget_id).values_list("tenant_id", flat=True).first()
    if tenant_id is not None:  # a cap deleted with its budget: the budget's own signal says it
        gateway.limits_changed(tenant_id)


@receiver([post_save, post_delete], sender=Rate)
def _rate_changed(sender, instance, **kwargs):
    """A rate from today on changes what today's usage costs: this process prices afresh (others within a
    minute, the gateway's rates cache)."""
    from apps.finops import gateway

    gateway._rates_cache.clear()
    gateway.limits_forget()
