"""The purposes an action accepts in a tenant, as the policy decides them (``policies/purpose.rego``, ``accepted``).

For checks that have no subject to audit: materialising a merge, whether an er_run's auto-merges (nobody
declares a purpose) or a reviewer's approval that ``purpose_require`` has already allowed and audited.
The answer for a tenant's active purposes is cached per bundle; reading the active purposes is one query.
"""

from __future__ import annotations

from functools import lru_cache

from apps.access import bundle as policy
from apps.access import services as access


def purposes_accepted(*, tenant_id: int, action: str) -> list[str]:
    """The tenant's active purposes that ``action`` accepts, in the order the policy lists them: for merge and
    rollback, the investigative purposes the tenant has active; for any other action, every active one."""
    active = tuple(access.tenant_purposes(tenant_id=tenant_id))
    return list(_accepted(policy.current_bundle().sha256, action, active))


@lru_cache(maxsize=1024)
def _accepted(sha256: str, action: str, active: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(policy.evaluate("purpose_accepted", {"action": action, "tenant_purposes": list(active)}))
