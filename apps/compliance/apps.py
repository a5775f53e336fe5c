from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    """The SOC 2 pack: what compliance staff use to show controls work. It sits at the top of the layers because
    it gathers evidence from every lane (signed evidence files today; controls and access reviews next). The
    audit log it reads is ``apps.audit``, at the bottom, because every lane records into it."""

    name = "apps.compliance"
    verbose_name = "Compliance"

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(_sync_controls, sender=self)


def _sync_controls(sender, using="default", **kwargs):
    """The control rows follow the library after every migrate (and flush), as the schedules do."""
    from apps.compliance.services import controls_sync

    if using == "default":
        controls_sync()
