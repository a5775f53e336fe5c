from django.apps import AppConfig


class FinopsConfig(AppConfig):
    """FinOps (plan epic F): metering of costly actions per tenant, the rate card, budgets with caps and alert
    thresholds enforced at the caps, overage requests (docs/finops.md)."""

    name = "apps.finops"
    verbose_name = "FinOps: budgets and costs"

    def ready(self):
        from apps.finops import receivers  # noqa: F401  (connects them)
        from apps.finops.metering import fallback_write
        from intelgraph import metering

        metering.fallback_register(fallback_write)
