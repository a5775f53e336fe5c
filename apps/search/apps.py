from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "apps.search"
    verbose_name = "Search"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_sync_excluded_fields, sender=self)


def _sync_excluded_fields(sender, **kwargs):
    from apps.search.services import excluded_fields_sync

    excluded_fields_sync()
