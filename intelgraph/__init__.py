"""IntelGraph project package: settings, URLs, ASGI, the Celery app and the root GraphQL schema."""

from intelgraph.celery import app as celery_app

__all__ = ["celery_app"]
