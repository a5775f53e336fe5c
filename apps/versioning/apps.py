from django.apps import AppConfig


class VersioningConfig(AppConfig):
    name = "apps.versioning"
    verbose_name = "API versioning"
