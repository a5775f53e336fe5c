from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "apps.access"
    verbose_name = "Access control: policies, purposes, grants"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.access import checks  # noqa: F401 - registers the policy compile check

        # Permissions exist only after migrate has run, so the role groups are refreshed then.
        post_migrate.connect(_refresh_role_groups, sender=self)


def _refresh_role_groups(sender, **kwargs):
    from apps.access.roles import role_groups_ensure

    role_groups_ensure()
