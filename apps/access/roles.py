"""Roles as Django admin permissions: one group per role, kept in step with memberships.

Django's model permissions are global, so a group only says which admin pages a role may use;
which rows, and whether a row may be changed, is decided per tenant by the access layer
(``entities_readable`` and the ``admin-change`` policy).
"""

from django.contrib.auth.models import Group, Permission

from apps.access import ranks

_VIEW_CORE = ["core.view_entity", "core.view_relationship", "core.view_source", "core.view_provenance"]
_ANALYST = [
    *_VIEW_CORE,
    "finops.view_budget",
    "finops.view_rate",
    "finops.view_overagerequest",
    "finops.add_overagerequest",
    "core.add_entity",
    "core.change_entity",
    "core.add_relationship",
    "core.change_relationship",
    "core.add_source",
    "core.change_source",
]
# Entity resolution: reviewers work the decision center and roll merges back; compliance staff look;
# administrators also manage models, pins and thresholds.
_ER_VIEW = [
    "er.view_candidatepair",
    "er.view_merge",
    "er.view_nevermerge",
    "er.view_modelartifact",
    "er.view_modelpin",
    "er.view_tenantersettings",
]
_COMPLIANCE = [
    *_VIEW_CORE,
    "core.view_tenant",
    "core.view_membership",
    "core.view_user",
    "core.view_apitoken",
    "core.view_groundtruthlabel",
    "audit.view_auditevent",
    "audit.view_auditsigningkey",
    # legal holds and longer retention: placing, lifting and overriding are checked per tenant by the policy
    # (admin-change rows legalhold and auditretentionoverride), these only open the pages
    "audit.view_legalhold",
    "audit.add_legalhold",
    "audit.view_auditretentionoverride",
    "audit.add_auditretentionoverride",
    "audit.change_auditretentionoverride",
    # access reviews: launching, deciding and closing are checked per tenant (admin-change row accessreview)
    "compliance.view_accessreview",
    "compliance.add_accessreview",
    # the control dashboard; applicability and attestations are checked per tenant by the policy
    "compliance.view_control",
    "compliance.view_controlapplicability",
    "compliance.add_controlapplicability",
    "compliance.change_controlapplicability",
    "compliance.view_controlattestation",
    "compliance.add_controlattestation",
    "compliance.view_evidencebundle",
    "compliance.add_evidencebundle",
    "access.view_policybundleversion",
    "access.view_tenantpurpose",
    *_ER_VIEW,
    "finops.view_budget",
    "finops.view_rate",
    "finops.view_overagerequest",
    "finops.add_overagerequest",
    "finops.view_budgetalert",
    "finops.view_usagedaily",
    "finops.view_budgetcap",
]
_REVIEWER = [
    *_VIEW_CORE,
    *_ER_VIEW,
    "er.change_candidatepair",
    "er.change_merge",
    "finops.view_budget",
    "finops.view_rate",
    "finops.view_overagerequest",
    "finops.add_overagerequest",
]
ROLE_PERMISSIONS = {
    "reader": [],
    "analyst": _ANALYST,
    "reviewer": _REVIEWER,
    "compliance": _COMPLIANCE,
    "admin": sorted(
        {
            *_ANALYST,
            *_COMPLIANCE,
            *_REVIEWER,
            "er.add_modelpin",
            "er.change_tenantersettings",
            "core.delete_entity",
            "core.delete_relationship",
            "core.change_tenant",
            "core.add_membership",
            "core.change_membership",
            "core.add_apitoken",
            "core.change_apitoken",
            "core.add_user",
            "core.change_user",
            "access.add_tenantpurpose",
            "access.change_tenantpurpose",
            "finops.add_budget",
            "finops.change_budget",
            "finops.add_budgetcap",
            "finops.change_budgetcap",
            "finops.delete_budgetcap",
            "finops.change_overagerequest",
        }
    ),
}
# Roles that work in the admin at all (readers use the API and the Explorer only).
STAFF_ROLES = {"analyst", "reviewer", "compliance", "admin"}


def group_name(role: str) -> str:
    return f"role:{role}"


def role_groups_ensure() -> None:
    """Create or refresh the role groups and their permissions (run after every migrate)."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name(role))
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)


def user_roles_sync(*, user) -> None:
    """Put the user in the group of their highest active role; staff when that role works in the admin."""
    roles = [m.role for m in user.memberships.filter(is_active=True, tenant__is_active=True)]
    highest = ranks.role_highest(roles=roles)
    role_group_names = [group_name(r) for r in ROLE_PERMISSIONS]
    if highest is not None and not Group.objects.filter(name=group_name(highest)).exists():
        role_groups_ensure()
    user.groups.remove(*Group.objects.filter(name__in=role_group_names).exclude(name=group_name(highest or "")))
    if highest is not None:
        user.groups.add(Group.objects.get(name=group_name(highest)))
    staff = user.is_superuser or highest in STAFF_ROLES
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
