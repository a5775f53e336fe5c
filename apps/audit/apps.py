from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Django announces logins only through signals; the receivers call the audit service.
        from apps.audit import receivers  # noqa: F401

        # The periodic schedules are declared in intelgraph/schedules.py; every migrate (and the flush of a test
        # database) makes django-celery-beat's rows match them, so fresh and existing databases converge.
        # Wired in the lowest app layer, so its use of intelgraph.schedules (platform) points down.
        post_migrate.connect(_sync_schedules, sender=self)
        # /metrics reads the sealing lag when scraped, so a stopped sealer shows as a growing figure.
        from intelgraph.metrics import on_scrape

        on_scrape(_sealing_gauges)


def _sealing_gauges() -> None:
    from apps.audit.selectors import unsealed_window
    from intelgraph.metrics import AUDIT_CHECKPOINT_SIZE, AUDIT_UNSEALED_SECONDS

    window = unsealed_window()
    AUDIT_UNSEALED_SECONDS.set(window["oldest_seconds"])
    AUDIT_CHECKPOINT_SIZE.set(window["sealed"])


def _sync_schedules(sender, using, **kwargs):
    # Imported here: intelgraph.schedules imports django-celery-beat's models, not loadable while apps load.
    from intelgraph.schedules import schedules_sync, schedules_table_ready

    if schedules_table_ready(using=using):
        schedules_sync(using=using)
