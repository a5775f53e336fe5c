"""Roles and their order, as the policy bundle decides them (``policies/roles.rego``): nothing in Python ranks roles.

``roles`` lists them; ``role_at_least``, ``role_highest`` and ``tenants_with_role`` ask the policy's
``roles.check``. An answer is a pure function of the bundle and the question, so it is cached on both: a new
bundle asks again, and a repeated question costs a lookup instead of an evaluation (about 400 µs). A policy
failure raises ``PolicyEvaluationError`` and is not cached; nothing is granted.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from apps.access import bundle as policy

if TYPE_CHECKING:
    from apps.access.services import Subject


class _Ranking(NamedTuple):
    at_least: frozenset[str]
    highest: str | None


def roles() -> tuple[str, ...]:
    """Every role, from the least to the most; each includes the ones before it."""
    return tuple(policy.current_bundle().data["roles"])


def role_at_least(*, role: str, least: str) -> bool:
    """Is ``role`` the role ``least`` or a higher one? A role the policy does not know is neither."""
    return "role" in _ranking((("role", role),), least).at_least


def role_highest(*, roles: Iterable[str]) -> str | None:
    """The highest of these roles (None when there are none, or none the policy knows)."""
    return _ranking(((str(i), role) for i, role in enumerate(roles)), None).highest


def tenants_with_role(*, subject: Subject, role: str) -> list[int]:
    """The subject's tenants in which it holds ``role`` or a higher one (e.g. the tenants it reviews)."""
    by_key = {str(tenant_id): tenant_id for tenant_id in subject.memberships}
    ranking = _ranking(((str(tenant_id), m.role) for tenant_id, m in subject.memberships.items()), role)
    return [tenant_id for key, tenant_id in by_key.items() if key in ranking.at_least]


def _ranking(held: Iterable[tuple[str, str]], least: str | None) -> _Ranking:
    """One question to the policy: ``held`` as (key, role) pairs, and the least role asked for (or None)."""
    question = tuple(sorted(held))
    return _evaluate(policy.current_bundle().sha256, question, None if least is None else str(least))


@lru_cache(maxsize=4096)
def _evaluate(sha256: str, held: tuple[tuple[str, str], ...], least: str | None) -> _Ranking:
    document = {"held": {key: str(role) for key, role in held}}
    if least is not None:
        document["least"] = least
    check = policy.evaluate("roles", document)
    return _Ranking(frozenset(check["at_least"]), check["highest"])
