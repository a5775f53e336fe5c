"""Who is asking, and what they may change: subjects, purposes, persisted operations, admin changes
and account management.

What a subject may *read* is not decided here: every read path asks
``apps.access.selectors.readable`` (one entry point that narrows in SQL, decides, redacts and
audits), which runs the engine in ``apps.access.decisions``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.access import bundle as policy
from apps.access import decisions
from apps.access.errors import PolicyEvaluationError, PurposeError
from apps.access.models import DEFAULT_PURPOSES, TenantPurpose
from apps.audit import services as audit
from apps.core.models import Membership, Tenant, User
from apps.core.selectors import memberships_for_user, tenant_ids_for_user

# --------------------------------------------------------------------------- subjects


@dataclass(frozen=True)
class MembershipView:
    role: str
    clearance: int
    compartments: tuple[str, ...]


@dataclass
class Subject:
    """Who is asking: a user, their memberships by tenant id, and the purpose they declared."""

    user: object
    memberships: dict[int, MembershipView]
    purpose: str | None = None
    #: while a persisted operation runs: the access actions its safelist tags allow (None: not limited)
    operation_actions: frozenset[str] | None = None

    @property
    def tenant_ids(self) -> list[int]:
        return list(self.memberships)

    @cached_property
    def has_object_grants(self) -> bool:
        """Whether the user holds any view_entity object grant (one query per subject, i.e. per request)."""
        return decisions.has_any_grant(user=self.user)

    def as_policy_input(self) -> dict:
        subject = {
            "memberships": {
                str(tenant_id): {"role": m.role, "clearance": m.clearance, "compartments": list(m.compartments)}
                for tenant_id, m in self.memberships.items()
            }
        }
        if self.purpose:
            subject["purpose"] = self.purpose
        return subject


def subject_for(*, user, purpose: str | None = None) -> Subject:

    memberships = {
        m.tenant_id: MembershipView(m.role, m.clearance, tuple(m.compartments)) for m in memberships_for_user(user=user)
    }
    return Subject(user=user, memberships=memberships, purpose=(purpose or None))


# --------------------------------------------------------------------------- purposes

SESSION_PURPOSE_KEY = "ig_purpose"
PURPOSE_HEADER = "x-ig-purpose"
_PURPOSE_FORMAT = re.compile(r"^[a-z][a-z0-9-]{1,39}$")


def purposes_for_user(*, user) -> list[str]:
    """Purposes the user may declare: those active in any of their tenants."""

    return sorted(
        set(
            TenantPurpose.objects.filter(tenant_id__in=tenant_ids_for_user(user=user), is_active=True).values_list(
                "code", flat=True
            )
        )
    )


def session_purpose_set(*, request, purpose: str) -> None:
    """Declare (or with '' clear) the purpose of use for this session; audited."""
    purpose = (purpose or "").strip()
    if purpose and purpose not in purposes_for_user(user=request.user):
        allowed = purposes_for_user(user=request.user)
        raise PurposeError(
            f"Unknown purpose {purpose[:40]!r}; declare one of: {', '.join(allowed)}.",
            reason="PURPOSE_UNKNOWN",
            allowed=allowed,
        )
    if purpose:
        request.session[SESSION_PURPOSE_KEY] = purpose
    else:
        request.session.pop(SESSION_PURPOSE_KEY, None)
    audit.record("access.purpose_declared", actor=request.user, payload={"purpose": purpose or None})


def subject_for_request(request) -> Subject:
    """The subject of a web request: the x-ig-purpose header wins over the session's declared purpose.

    Built once per request (the admin asks for it per row and per form field; each build reads memberships).
    """
    cached = getattr(request, "_ig_subject", None)
    if cached is not None and cached.user is request.user:
        return cached
    purpose = request.headers.get(PURPOSE_HEADER, "").strip() or None
    if purpose is not None and not _PURPOSE_FORMAT.match(purpose):
        raise PurposeError(
            f"{PURPOSE_HEADER}: {purpose[:40]!r} is not a purpose code (lower-case letters, digits, hyphens).",
            reason="PURPOSE_MALFORMED",
            allowed=[],
        )
    if purpose is None and hasattr(request, "session"):
        purpose = request.session.get(SESSION_PURPOSE_KEY)
    request._ig_subject = subject_for(user=request.user, purpose=purpose)
    return request._ig_subject


def tenant_purposes(*, tenant_id: int) -> list[str]:
    return decisions.active_purposes([tenant_id])[str(tenant_id)]


def tenant_purposes_install_defaults(*, tenant: Tenant) -> None:
    for code, label in DEFAULT_PURPOSES:
        TenantPurpose.objects.get_or_create(tenant=tenant, code=code, defaults={"label": label})


def purpose_validate(*, subject: Subject, tenant_id: int) -> None:
    """A declared purpose must be one the tenant configured; raise PurposeError naming the allowed ones."""
    if subject.purpose is None:
        return
    allowed = tenant_purposes(tenant_id=tenant_id)
    if subject.purpose not in allowed:
        raise PurposeError(
            f"Unknown purpose {subject.purpose!r}; this tenant accepts: {', '.join(allowed)}.",
            reason="PURPOSE_UNKNOWN",
            allowed=allowed,
        )


def purpose_require(*, subject: Subject, tenant_id: int, action: str, target=None) -> None:
    """Refuse a purpose-bound action without an acceptable purpose; audit the allow or the refusal."""
    purposes = tenant_purposes(tenant_id=tenant_id)
    document = {"action": action, "subject": subject.as_policy_input(), "tenant_purposes": purposes}
    try:
        check = policy.evaluate("purpose", document)
    except PolicyEvaluationError as exc:
        decisions.audit_policy_error(subject=subject, action=action, tenant_id=tenant_id, error=exc)
        raise PurposeError(
            "The purpose policy could not be evaluated; refused.", reason="POLICY_ERROR", allowed=[]
        ) from exc
    if check["allowed"]:
        if check["bound"]:
            audit.record(
                "access.purpose_allowed",
                actor=subject.user,
                tenant=tenant_id,
                target=target,
                payload={"action": action, "purpose": subject.purpose, "bundle": policy.current_bundle().sha256},
            )
        return
    allowed = check["needs"].get("purpose", [])
    audit.record(
        "access.denied",
        actor=subject.user,
        tenant=tenant_id,
        target=target,
        payload={
            "action": action,
            "reason": check["reason"],
            "purpose": subject.purpose,
            "bundle": policy.current_bundle().sha256,
        },
    )
    declared = f"purpose {subject.purpose!r} is not accepted" if subject.purpose else "no purpose was declared"
    raise PurposeError(
        f"{action} needs a declared purpose, and {declared}; declare one of: {', '.join(allowed)} "
        "(header x-ig-purpose, or the purpose selector).",
        reason=check["reason"],
        allowed=allowed,
    )


# --------------------------------------------------------------------------- persisted operations


def operation_allowed(*, subject: Subject, operation) -> dict:
    """May the subject run this persisted operation (its safelist roles), and which access actions may it
    use (its ABAC tags)? ``{allowed, reason, needs, actions}`` from policies/operations.rego; on allow, the
    subject is limited to those actions for the rest of the request. A policy failure refuses."""
    document = {
        "operation": {"id": operation.id, "roles": list(operation.roles), "abac": list(operation.abac)},
        "subject": subject.as_policy_input(),
    }
    try:
        check = policy.evaluate("operation", document)
    except PolicyEvaluationError as exc:
        decisions.audit_policy_error(subject=subject, action="operation", tenant_id=None, error=exc)
        return {"allowed": False, "reason": "POLICY_ERROR", "needs": {}, "actions": []}
    if check["allowed"]:
        subject.operation_actions = frozenset(check["actions"])
    return check


def operation_tags() -> frozenset[str]:
    """The ABAC tags a safelist entry may carry (the keys of the policy's tag_actions)."""
    return frozenset(policy.current_bundle().data["operation_tags"])


# --------------------------------------------------------------------------- admin changes


def admin_change_allowed(*, subject: Subject, tenant_id: int, record_type: str) -> bool:
    """May this member add, change or delete a record of this type in this tenant (action admin-change)?"""
    return bool(_tenant_table(subject, "admin_change", "admin-change", tenant_id).get(record_type, False))


def tenant_read_allowed(*, subject: Subject, tenant_id: int, what: str) -> bool:
    """May this member read the tenant's own figures of this kind (``costs``; action tenant-read)? While a
    persisted operation runs, only what its safelist tags name."""
    if subject.operation_actions is not None and what not in subject.operation_actions:
        return False
    return bool(_tenant_table(subject, "tenant_read", "tenant-read", tenant_id).get(what, False))


def tenant_read_needs(what: str) -> str | None:
    """The role the policy asks for to read ``what`` (for messages)."""
    return policy.current_bundle().data["tenant_read_roles"].get(what)


def _tenant_table(subject: Subject, entry: str, action: str, tenant_id: int) -> dict:
    """The policy's per-tenant table for the subject (``entry`` of the bundle), decided once per subject and
    bundle; ``{}`` for a tenant the subject is not a member of, or when the policy fails (refuses)."""
    if tenant_id not in subject.memberships:
        return {}
    scope = (policy.current_bundle().sha256, action, json.dumps(subject.as_policy_input(), sort_keys=True))
    table, _ = decisions.decision_cache.get_many(scope, ["table"], [])
    if "table" not in table:
        try:
            result = policy.evaluate(entry, {"action": action, "subject": subject.as_policy_input()})
        except PolicyEvaluationError as exc:
            decisions.audit_policy_error(subject=subject, action=action, tenant_id=tenant_id, error=exc)
            return {}
        table = {"table": result or {}}
        decisions.decision_cache.put_many(scope, table, {})
    return table["table"].get(str(tenant_id), {})


def tenants_allowing(*, subject: Subject, record_type: str) -> list[int]:
    """The subject's tenants in which it may add, change or delete records of this type."""
    return [
        t for t in subject.tenant_ids if admin_change_allowed(subject=subject, tenant_id=t, record_type=record_type)
    ]


# --------------------------------------------------------------------------- user accounts


def user_manage_allowed(*, subject: Subject, target) -> bool:
    """May the subject change ``target``'s account: profile, password, API tokens?

    Superusers may manage anyone. Nobody else may manage a superuser. A member may manage their own
    account (never its staff or superuser flags: those are superusers' alone), and another user only
    when every tenant that user belongs to lets the subject change users: an administrator of one
    tenant does not reach a user who also works in another tenant through them.
    """
    if target is None or target.pk is None:
        return False
    return users_manageable(subject=subject).filter(pk=target.pk).exists()


def users_manageable(*, subject: Subject, queryset: QuerySet | None = None) -> QuerySet:
    """The accounts ``user_manage_allowed`` lets the subject manage, as one SQL query."""
    queryset = User.objects.all() if queryset is None else queryset
    if getattr(subject.user, "is_superuser", False):
        return queryset
    if not getattr(subject.user, "is_authenticated", False):
        return queryset.none()
    administered = tenants_allowing(subject=subject, record_type="user")
    elsewhere = Membership.objects.filter(user=OuterRef("pk")).exclude(tenant_id__in=administered)
    inside = Membership.objects.filter(user=OuterRef("pk"), tenant_id__in=administered)
    others = Q(is_superuser=False) & Exists(inside) & ~Exists(elsewhere)
    return queryset.filter(others | Q(pk=subject.user.pk, is_superuser=False))


def user_manage_denied(*, subject: Subject, target, action: str) -> None:
    """Record a refused attempt to manage an account (the caller then refuses it)."""
    tenants = sorted(set(Membership.objects.filter(user=target).values_list("tenant_id", flat=True)))
    shared = [t for t in tenants if t in subject.memberships]
    audit.record(
        "access.denied",
        actor=subject.user,
        tenant=shared[0] if len(shared) == 1 else None,
        target=target,
        payload={
            "action": action,
            "reason": "USER_MANAGE",
            "target_superuser": bool(target.is_superuser),
            "target_tenants": tenants,
            "bundle": policy.current_bundle().sha256,
        },
    )
