from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "apps.access"
    verbose_name = "Access control: policies, purposes, grants"

    def ready(self) -> None:
        from apps.access import checks  # noqa: F401 - registers the policy compile check
