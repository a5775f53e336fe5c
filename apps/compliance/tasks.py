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


@shared_task(name="compliance.evidence_bundle")
def evidence_bundle_build(bundle_id: int) -> dict:
    """Build a requested evidence bundle (its page shows the progress live)."""
    from apps.compliance.models import EvidenceBundle

    bundle = services.evidence_bundle_run(bundle=EvidenceBundle.objects.get(pk=bundle_id))
    return {"bundle": bundle.pk, "sha256": bundle.sha256, "gaps": bundle.gaps}
