from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "apps.access"
    verbose_name = "Access control: policies, purposes, grants"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.access import checks  # noqa: F401 - registers the policy compile check

        # Permissions exist only after migrate has run, so the role groups are refreshed then: after the last
        # app's post_migrate, when every app's permissions (apps.er's too) have been created.
        post_migrate.connect(_refresh_role_groups)


def _refresh_role_groups(sender, **kwargs):
    from django.apps import apps

    from apps.access.roles import role_groups_ensure

    if sender.label == list(apps.get_app_configs())[-1].label:
        role_groups_ensure()
