from django.apps import AppConfig


class ErConfig(AppConfig):
    name = "apps.er"
    verbose_name = "Entity resolution"

    def ready(self) -> None:
        from apps.core.signals import entity_written

        entity_written.connect(_score_after_commit, dispatch_uid="er.online")


def _score_after_commit(sender, entity, created, **kwargs):
    """The online path: once the write commits, a worker scores the entity against its candidates."""
    if entity.kind not in ("person", "organization") or not entity.tenant.flag("er"):
        return
    from django.db import transaction

    def queue(entity_id=str(entity.pk)):
        import logging

        try:
            from apps.er.tasks import score_entity_task

            score_entity_task.delay(entity_id)
        except Exception as exc:  # the write committed; a broker hiccup only delays its scoring to the next run
            logging.getLogger(__name__).warning("could not queue online ER scoring: %s", exc)

    transaction.on_commit(queue)
