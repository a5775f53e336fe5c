from django.apps import AppConfig


class ErConfig(AppConfig):
    name = "apps.er"
    verbose_name = "Entity resolution"
