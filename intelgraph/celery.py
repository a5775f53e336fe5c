"""The Celery application. Schedules live in the database (django-celery-beat), editable in the admin."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intelgraph.settings")

# Apps' tasks are found by autodiscovery; the platform's own (alerts) are listed here.
app = Celery("intelgraph", include=["intelgraph.alerts"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
