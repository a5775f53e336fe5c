from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "apps.compliance"
    verbose_name = "Compliance: audit log"

    def ready(self) -> None:
        # Django announces logins only through signals; the receivers call the audit service.
        from apps.compliance import receivers  # noqa: F401
