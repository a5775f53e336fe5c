"""Writes of the search app: which attributes stay out of the index, and reindexing."""

from django.db import connection, transaction

from apps.access import bundle as policy
from apps.core.models import Entity
from apps.search.models import ExcludedField


def excluded_fields_sync() -> list[str]:
    """Make the index exclude exactly the policy's governed fields; reindex rows whose words change.

    Returns the attribute names whose status changed.
    """
    wanted = set(policy.current_bundle().governed_fields)
    with transaction.atomic():
        present = set(ExcludedField.objects.values_list("name", flat=True))
        changed = sorted(wanted ^ present)
        if not changed:
            return []
        ExcludedField.objects.filter(name__in=present - wanted).delete()
        ExcludedField.objects.bulk_create([ExcludedField(name=n) for n in sorted(wanted - present)])
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_entity SET display_name = display_name WHERE attributes ?| %s", [changed])
    return changed


def search_reindex(*, tenant_ids=None, batch_size: int = 20_000, progress=None) -> int:
    """Recompute search vectors (after a text search configuration change), in batches."""

    queryset = Entity.objects.order_by("id")
    if tenant_ids:
        queryset = queryset.filter(tenant_id__in=tenant_ids)
    done, last = 0, None
    while True:
        page = queryset.filter(id__gt=last) if last else queryset
        ids = list(page.values_list("id", flat=True)[:batch_size])
        if not ids:
            return done
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE core_entity SET display_name = display_name WHERE id = ANY(%s)", [ids])
        done += len(ids)
        last = ids[-1]
        if progress:
            progress(len(ids))
