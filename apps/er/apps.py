from django.apps import AppConfig


class ErConfig(AppConfig):
    """Entity resolution. Its online path follows core's transactional outbox (``apps.er.online``), so every
    write of an entity, single or bulk, is scored once it commits; nothing is connected here."""

    name = "apps.er"
    verbose_name = "Entity resolution"

    def ready(self) -> None:
        from apps.er.services.metrics import outbox_gauges
        from intelgraph.metrics import on_scrape

        on_scrape(outbox_gauges)
