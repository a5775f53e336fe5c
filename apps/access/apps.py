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

    # post_migrate is sent once per app that has models; act on the last of them.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender.label == with_models[-1].label:
        role_groups_ensure()
