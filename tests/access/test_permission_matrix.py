"""The permission matrix: every persisted operation and every admin model, as each kind of caller sees them.

Both axes come from the sources of truth, so a path is covered the day it is added:
- the operations are those of graphql/safelist.json; their variables are filled from the document's variable
  definitions and a small seeded world (an operation with a required variable the matrix cannot fill fails,
  so whoever adds it says here how to call it);
- the admin models are those of ``django.contrib.admin.site._registry``; each needs a row builder below
  (a model registered without one fails).

Cases for an operation (the record is SECRET, in tenant alpha; tenant bravo holds a look-alike):
  anonymous         401 UNAUTHENTICATED, nothing else
  other_tenant      a reader of bravo: NOT_FOUND or an empty answer, never a value of alpha
  below_clearance   an analyst of alpha cleared to CONFIDENTIAL: the record masked (a stub) or absent
  object_grant      the same analyst holding a guardian grant on the record: its data, but not national_id
                    (a field rule, which no grant lifts)
  purpose_missing   an analyst cleared to SECRET, no purpose: the record, national_id withheld
  purpose_declared  the same with x-ig-purpose: investigation: national_id shown where attributes are
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client
from graphql import NonNullTypeNode, parse
from guardian.shortcuts import assign_perm

from apps.access import ranks
from apps.core.choices import Role, Sensitivity
from apps.graph.services import outbox_drain
from apps.versioning import safelist
from tests import factories

pytestmark = pytest.mark.django_db

OPERATIONS = sorted(operation.id for key, operation in safelist.load().items() if key == operation.id)
OPERATION_CASES = [
    "anonymous",
    "other_tenant",
    "below_clearance",
    "object_grant",
    "purpose_missing",
    "purpose_declared",
]

RECORD_NAME = "Matrix Person"
NATIONAL_ID, CITY, BIRTH_DATE = "NI-4471-0092", "Oslo", "1970-01-01"
NEIGHBOUR_NAME = "Matrix Employer"
BRAVO_NAME, BRAVO_CITY = "Matrix Bravo Holdings", "Bravocity"
QUERY_WORD = "matrix"  # in every name above, in no secret value


class World:
    def __init__(self, tenant_a, tenant_b):
        self.tenant_a, self.tenant_b = tenant_a, tenant_b
        self.record = factories.entity(
            tenant=tenant_a,
            name=RECORD_NAME,
            sensitivity=Sensitivity.SECRET,
            attributes={"city": CITY, "national_id": NATIONAL_ID, "birth_date": BIRTH_DATE},
        )
        self.neighbour = factories.entity(tenant=tenant_a, kind="organization", name=NEIGHBOUR_NAME)
        factories.relationship(tenant=tenant_a, kind="works_for", from_entity=self.record, to_entity=self.neighbour)
        self.theirs = factories.entity(tenant=tenant_b, name=BRAVO_NAME, attributes={"city": BRAVO_CITY})
        outbox_drain()


@pytest.fixture
def world(tenant_a, tenant_b):
    return World(tenant_a, tenant_b)


# How to fill an operation's variables: by name, from the world. Optional variables the matrix does not know are
# left out; a required one it does not know fails the operation's cases (add it here).
VARIABLES = {
    "id": lambda w: str(w.record.pk),
    "ids": lambda w: [str(w.record.pk)],
    "q": lambda w: QUERY_WORD,
}


def variables_for(operation_id: str, world: World) -> dict:
    definition = parse(safelist.load()[operation_id].document).definitions[0]
    variables = {}
    for variable in definition.variable_definitions or ():
        name = variable.variable.name.value
        if name in VARIABLES:
            variables[name] = VARIABLES[name](world)
        elif isinstance(variable.type, NonNullTypeNode) and variable.default_value is None:
            pytest.fail(
                f"{operation_id} needs ${name}, and the permission matrix does not know how to fill it: add it to "
                "VARIABLES in tests/access/test_permission_matrix.py (and the world it needs)."
            )
    return variables


def selects(operation_id: str, *fields: str) -> bool:
    document = safelist.load()[operation_id].document
    return any(re.search(rf"\b{field}\b", document) for field in fields)


def caller(case: str, world: World, gql):
    a, b = world.tenant_a, world.tenant_b
    if case == "anonymous":
        return gql()
    if case == "other_tenant":
        return gql(factories.user(tenant=b, role=Role.READER, clearance=Sensitivity.TOP_SECRET))
    if case in ("below_clearance", "object_grant"):
        analyst = factories.user(tenant=a, role=Role.ANALYST, clearance=Sensitivity.CONFIDENTIAL)
        if case == "object_grant":
            assign_perm("core.view_entity", analyst, world.record)
        return gql(analyst)
    cleared = factories.user(tenant=a, role=Role.ANALYST, clearance=Sensitivity.SECRET)
    return gql(cleared, purpose="investigation" if case == "purpose_declared" else None)


def nodes_about(value, record_id: str):
    """Every object in the answer that is about the record (its id), wherever the operation puts it."""
    if isinstance(value, dict):
        if value.get("id") == record_id:
            yield value
        for item in value.values():
            yield from nodes_about(item, record_id)
    elif isinstance(value, list):
        for item in value:
            yield from nodes_about(item, record_id)


@pytest.mark.parametrize("case", OPERATION_CASES)
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_persisted_operation_answers_as_the_policy_says(gql, world, operation_id, case):
    # Given the seeded world and a caller of this case
    variables = variables_for(operation_id, world)
    who = caller(case, world, gql)
    # When they run the persisted operation by id
    body = who.post(operation_id, variables)
    text = body.text()
    record_id = str(world.record.pk)
    shows_names = selects(operation_id, "displayName", "label")
    shows_attributes = selects(operation_id, "attributes", "attributeList")
    targets_record = bool({"id", "ids"} & set(variables))
    # Then
    needed = safelist.load()[operation_id].roles
    role = Role.READER if case == "other_tenant" else Role.ANALYST
    if case != "anonymous" and needed and not any(ranks.role_at_least(role=role, least=n) for n in needed):
        # the safelist entry asks for more than the caller's role: refused before anything runs, nothing said
        assert body.status == 403 and body.codes == ["FORBIDDEN"] and "data" not in body, body
        return
    assert body.status in (200, 401), body
    if case == "anonymous":
        assert body.status == 401 and body.codes == ["UNAUTHENTICATED"], body
        assert "data" not in body or body.data is None
        return
    assert body.status == 200, body
    assert not (set(body.codes) - {"NOT_FOUND", "FORBIDDEN"}), body  # no INTERNAL_SERVER_ERROR, nothing unexpected
    if case == "other_tenant":
        for value in (RECORD_NAME, NEIGHBOUR_NAME, CITY, NATIONAL_ID, BIRTH_DATE, record_id):
            assert value not in text, (value, body)
        assert body.codes in ([], ["NOT_FOUND"]), body
        return
    # every caller below is a member of alpha: nothing of bravo, ever
    for value in (BRAVO_NAME, BRAVO_CITY, str(world.theirs.pk)):
        assert value not in text, (value, body)
    about = list(nodes_about(body.data, record_id))
    if case == "below_clearance":
        for value in (RECORD_NAME, CITY, NATIONAL_ID, BIRTH_DATE):
            assert value not in text, (value, body)
        assert all(node.get("masked") is True for node in about), body  # a stub, or nothing
        if body.errors:
            assert body.codes == ["FORBIDDEN"] and body.errors[0]["extensions"]["reason"] == "CLEARANCE", body
        return
    # object_grant, purpose_missing, purpose_declared: the record is readable
    assert body.codes == [], body
    assert all(node.get("masked") in (None, False) for node in about), body
    if shows_names and (targets_record or "q" in variables):
        assert RECORD_NAME in text, body
    if shows_attributes and targets_record:
        assert CITY in text and BIRTH_DATE in text, body
    if case == "purpose_declared" and shows_attributes and targets_record:
        assert NATIONAL_ID in text, body  # the control: the value is there when the policy allows it
    else:
        assert NATIONAL_ID not in text, body


def test_the_operation_matrix_has_every_operation():
    listed = {entry["id"] for entry in json.loads(Path(settings.GRAPHQL_SAFELIST).read_text())["operations"]}
    assert OPERATIONS and set(OPERATIONS) == listed


# --------------------------------------------------------------------------- admin


def _periodic_task(world):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    return PeriodicTask.objects.create(name="matrix task", task="apps.core.tasks.noop", interval=every)


def _schedule(name):
    def build(world):
        from django_celery_beat import models as beat

        if name == "ClockedSchedule":
            from django.utils import timezone

            return beat.ClockedSchedule.objects.create(clocked_time=timezone.now())
        if name == "CrontabSchedule":
            return beat.CrontabSchedule.objects.create(minute="5")
        if name == "SolarSchedule":
            return beat.SolarSchedule.objects.create(event="sunrise", latitude=59.9, longitude=10.7)
        return beat.IntervalSchedule.objects.create(every=7, period=beat.IntervalSchedule.MINUTES)

    return build


# One row per admin model, in tenant bravo where the model has a tenant: the staff member of alpha must not see it.
ROW_BUILDERS = {
    "auth.Group": lambda w: Group.objects.create(name="matrix group"),
    "django_celery_beat.PeriodicTask": _periodic_task,
    "django_celery_beat.ClockedSchedule": _schedule("ClockedSchedule"),
    "django_celery_beat.CrontabSchedule": _schedule("CrontabSchedule"),
    "django_celery_beat.SolarSchedule": _schedule("SolarSchedule"),
    "django_celery_beat.IntervalSchedule": _schedule("IntervalSchedule"),
    "core.Tenant": lambda w: w.tenant_b,
    "core.User": lambda w: factories.user(tenant=w.tenant_b, username="bravo-member"),
    "core.Membership": lambda w: factories.user(tenant=w.tenant_b).memberships.get(),
    "core.Source": lambda w: factories.source(tenant=w.tenant_b, name="bravo-source"),
    "core.Entity": lambda w: w.theirs,
    "core.Relationship": lambda w: factories.relationship(tenant=w.tenant_b),
    "core.Provenance": lambda w: factories.provenance(tenant=w.tenant_b),
    "core.GroundTruthLabel": lambda w: factories.ground_truth_label(entity=w.theirs),
    "core.ApiToken": lambda w: factories.api_token(user=factories.user(tenant=w.tenant_b))[0],
    "access.TenantPurpose": lambda w: factories.tenant_purpose(tenant=w.tenant_b, code="bravo-purpose"),
    "access.PolicyBundleVersion": lambda w: factories.policy_bundle_version(),
    "search.TenantSearchSettings": lambda w: factories.search_settings(tenant=w.tenant_b),
    "search.ExcludedField": lambda w: factories.excluded_field(),
    "versioning.DeprecatedFieldUsage": lambda w: factories.deprecated_field_usage(
        user=factories.user(tenant=w.tenant_b)
    ),
    "audit.AuditEvent": lambda w: factories.audit_event(tenant=w.tenant_b, event_type="matrix.bravo"),
    "audit.AuditSigningKey": lambda w: factories.audit_signing_key(),
    "er.CandidatePair": lambda w: factories.candidate_pair(tenant=w.tenant_b),
    "er.Merge": lambda w: factories.merge(tenant=w.tenant_b),
    "er.NeverMerge": lambda w: factories.never_merge(tenant=w.tenant_b),
    "er.ModelArtifact": lambda w: factories.model_artifact(),
    "er.ModelPin": lambda w: factories.model_pin(tenant=w.tenant_b),
    "er.TenantERSettings": lambda w: factories.er_settings(tenant=w.tenant_b),
    "audit.LegalHold": lambda w: factories.legal_hold(tenant=w.tenant_b),
    "audit.AuditRetentionOverride": lambda w: factories.retention_override(tenant=w.tenant_b),
    "audit.AuditTombstone": lambda w: factories.audit_tombstone(),
    "compliance.AccessReview": lambda w: factories.access_review(tenant=w.tenant_b),
    "compliance.Control": lambda w: factories.control(),
    "compliance.ControlApplicability": lambda w: factories.control_applicability(tenant=w.tenant_b),
    "compliance.ControlAttestation": lambda w: factories.control_attestation(tenant=w.tenant_b),
    "compliance.EvidenceBundle": lambda w: factories.evidence_bundle(tenant=w.tenant_b),
    "safety.BackupPolicy": lambda w: factories.backup_policy(),
    "safety.Backup": lambda w: factories.backup(),
    "safety.GraphSnapshot": lambda w: factories.graph_snapshot(),
    "safety.RestorePoint": lambda w: factories.restore_point(),
    "safety.RestoreDrill": lambda w: factories.restore_drill(),
    "finops.Rate": lambda w: factories.rate(),
    "finops.Budget": lambda w: factories.budget(tenant=w.tenant_b),
    "finops.BudgetAlert": lambda w: factories.budget_alert(tenant=w.tenant_b),
    "finops.UsageDaily": lambda w: factories.usage(tenant=w.tenant_b),
    "finops.OverageRequest": lambda w: factories.overage_request(tenant=w.tenant_b),
}

# One-row models whose changelist opens the row (the backup policy).
SINGLETONS = {"safety.BackupPolicy"}

# Which tenant a row belongs to, from the model (not from its admin class: an admin that forgot to scope a
# tenant's rows must fail here, not be skipped).
TENANT_OF = {
    "core.Tenant": "pk",
    "core.User": "memberships__tenant",
    "core.ApiToken": "user__memberships__tenant",
    "versioning.DeprecatedFieldUsage": "user__memberships__tenant",
}


def tenant_lookup(model) -> str | None:
    if model._meta.label in TENANT_OF:
        return TENANT_OF[model._meta.label]
    names = {field.name for field in model._meta.get_fields()}
    return "tenant" if "tenant" in names else None


ADMIN_MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)
ADMIN_CASES = ["anonymous", "reader", "other_tenant_staff", "superuser"]


def admin_params():
    for model in ADMIN_MODELS:
        for case in ADMIN_CASES:
            label = model._meta.label
            if case == "other_tenant_staff" and tenant_lookup(model) is None:
                yield pytest.param(
                    label,
                    case,
                    id=f"{label}-{case}-skipped: global, no tenant",
                    marks=pytest.mark.skip(reason=f"{label} has no tenant: nothing to scope"),
                )
            else:
                yield pytest.param(label, case, id=f"{label}-{case}")


def admin_caller(case: str, world: World) -> Client:
    client = Client()
    if case == "anonymous":
        return client
    if case == "reader":
        client.force_login(factories.user(tenant=world.tenant_a, role=Role.READER))
    elif case == "superuser":
        client.force_login(factories.user(tenant=world.tenant_a, role=Role.ADMIN, superuser=True))
    else:
        staff = factories.user(tenant=world.tenant_a, role=Role.ADMIN, clearance=Sensitivity.TOP_SECRET, staff=True)
        staff.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
        client.force_login(staff)
    return client


def admin_urls(model, row) -> tuple[str, str]:
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    return base, f"{base}{row.pk}/change/"


@pytest.mark.parametrize(("label", "case"), admin_params())
def test_admin_model_answers_as_the_policy_says(world, label, case):
    model = next(m for m in ADMIN_MODELS if m._meta.label == label)
    if label not in ROW_BUILDERS:
        pytest.fail(f"{label} is registered in the admin and the matrix cannot build a row: add it to ROW_BUILDERS.")
    # Given one row of the model (in tenant bravo where it has a tenant)
    row = ROW_BUILDERS[label](world)
    changelist_url, change_url = admin_urls(model, row)
    client = admin_caller(case, world)
    # When the caller opens the changelist and the row's change page
    changelist = client.get(changelist_url)
    change = client.get(change_url)
    # Then
    if case in ("anonymous", "reader"):
        for response in (changelist, change):
            assert response.status_code == 302 and "/admin/login/" in response["Location"], response
    elif case == "superuser" and label in SINGLETONS:
        # the list of a one-row model opens that row
        assert changelist.status_code == 302 and changelist["Location"] == change_url, changelist
        assert change.status_code == 200, change
    elif case == "superuser":
        assert changelist.status_code == 200, changelist
        assert change.status_code == 200, change
        assert change_url in changelist.content.decode() or str(row.pk) in changelist.content.decode()
    else:
        listed = changelist.content.decode()
        assert changelist.status_code == 200, changelist
        assert change_url not in listed, f"{label}: a row of tenant bravo listed"
        if not isinstance(row.pk, int):
            assert str(row.pk) not in listed, f"{label}: a row of tenant bravo listed"
        assert change.status_code in (302, 404), change
