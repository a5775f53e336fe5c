from celery import shared_task

from apps.finops import metering, services, storage


@shared_task(name="finops.fold", acks_late=True)
def fold() -> dict:
    """Fold the Redis usage counters into PostgreSQL, then check the budgets' thresholds."""
    result = metering.usage_fold()
    sent = services.budget_alerts_check() if result.batches else []
    return {"batches": result.batches, "fields": result.fields, "skipped": result.skipped, "alerts": len(sent)}


@shared_task(name="finops.alerts_check", acks_late=True)
def alerts_check() -> dict:
    """Threshold and forecast alerts for every budget (also after each fold that added usage)."""
    return {"alerts": len(services.budget_alerts_check())}


@shared_task(name="finops.storage_sample", acks_late=True)
def storage_sample() -> dict:
    """Each tenant's storage today: PostgreSQL rows and bytes, graph store nodes and edges, backup share."""
    return storage.storage_sample()
