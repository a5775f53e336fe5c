"""Tenant arguments of management commands (--tenant SLUG, repeatable): one place resolves them."""

from django.core.management.base import CommandError

from apps.core.models import Tenant


def tenants_from(slugs: list[str] | None) -> list[Tenant]:
    """The named tenants (all, when none is named); an unknown slug is a command-line error."""
    if not slugs:
        return list(Tenant.objects.order_by("slug"))
    found = {t.slug: t for t in Tenant.objects.filter(slug__in=slugs)}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise CommandError(f"unknown tenant {missing[0]!r}")
    return [found[s] for s in dict.fromkeys(slugs)]
