"""Scheduled compliance work. Tasks stay thin: they call the compliance services."""

from celery import shared_task

from apps.compliance import services


@shared_task(name="compliance.access_reviews_launch")
def access_reviews_launch() -> dict:
    """Launch this quarter's access review of every active tenant that has none (quarterly, from beat)."""
    launched = services.access_reviews_launch_due()
    return {"launched": [f"{review.tenant.slug} {review.period}" for review in launched]}


@shared_task(name="compliance.access_reviews_remind")
def access_reviews_remind() -> dict:
    """Reminders, the overdue alert and the escalation (daily, from beat)."""
    return services.access_reviews_remind()
