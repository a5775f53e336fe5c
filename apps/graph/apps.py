from django.apps import AppConfig


class GraphConfig(AppConfig):
    name = "apps.graph"
    verbose_name = "Graph projection"

    def ready(self) -> None:
        from intelgraph.metrics import on_scrape

        # /metrics reads the outbox lag when scraped, so every process reports the same, current figure.
        on_scrape(_outbox_gauges)


def _outbox_gauges() -> None:
    from apps.graph.services import outbox_lag
    from intelgraph.metrics import GRAPH_OUTBOX_AGE, GRAPH_OUTBOX_PENDING

    lag = outbox_lag()
    GRAPH_OUTBOX_PENDING.set(lag["pending"])
    GRAPH_OUTBOX_AGE.set(lag["oldest_seconds"])
