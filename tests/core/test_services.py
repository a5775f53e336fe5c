"""Domain services: validation, audit trail, provenance, tenant rules."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEvent
from apps.core import services
from apps.core.models import Entity, Relationship
from tests import factories

pytestmark = pytest.mark.django_db


def last_event():
    return AuditEvent.objects.order_by("-seq").first()


def test_entity_create_records_audit_and_provenance(tenant_a):
    source = services.source_get_or_create(tenant=tenant_a, name="case file 7")
    entity = services.entity_create(
        tenant=tenant_a,
        kind="person",
        display_name="  Ada  ",
        attributes={"city": "London"},
        sensitivity="confidential",
        labels=["pep", "pep", "vip"],
        source=source,
    )
    assert entity.display_name == "Ada"
    assert entity.sensitivity == 2
    assert entity.labels == ["pep", "vip"]
    assert last_event().event_type == "entity.created"
    assert entity.provenance.get().fields == ["city"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "spaceship"}, "kind"),
        ({"display_name": ""}, "display_name"),
        ({"attributes": ["not", "a", "dict"]}, "attributes"),
        ({"sensitivity": 7}, "sensitivity"),
        ({"sensitivity": "ultra"}, "sensitivity"),
        ({"labels": "pep"}, "labels"),
    ],
)
def test_entity_create_rejects_bad_input_and_writes_nothing(tenant_a, changes, field):
    before = (Entity.objects.count(), AuditEvent.objects.count())
    arguments = {"tenant": tenant_a, "kind": "person", "display_name": "Valid", **changes}
    with pytest.raises(ValidationError) as caught:
        services.entity_create(**arguments)
    assert field in caught.value.error_dict
    assert (Entity.objects.count(), AuditEvent.objects.count()) == before


def test_entity_update_audits_changed_fields_only(tenant_a):
    entity = factories.entity(tenant=tenant_a, attributes={"city": "Paris", "zip": "75001"})
    services.entity_update(entity=entity, attributes={"city": "Lyon", "zip": "75001"})
    event = last_event()
    assert event.event_type == "entity.updated"
    assert event.payload == {"fields": ["attributes"], "attributes": ["city"]}
    seq = event.seq
    services.entity_update(entity=Entity.objects.get(pk=entity.pk), attributes={"city": "Lyon", "zip": "75001"})
    assert last_event().seq == seq  # no change, no event


def test_entity_update_refuses_tenant_change(tenant_a, tenant_b):
    entity = factories.entity(tenant=tenant_a)
    with pytest.raises(ValidationError):
        services.entity_update(entity=entity, tenant=tenant_b)


def test_duplicate_external_id_in_tenant_is_refused_but_allowed_across(tenant_a, tenant_b):
    factories.entity(tenant=tenant_a, external_id="X1")
    factories.entity(tenant=tenant_b, external_id="X1")
    with pytest.raises(ValidationError, match="external id"):
        factories.entity(tenant=tenant_a, external_id="X1")


def test_relationship_across_tenants_is_refused(tenant_a, tenant_b):
    a = factories.entity(tenant=tenant_a)
    b = factories.entity(tenant=tenant_b)
    with pytest.raises(ValidationError) as caught:
        services.relationship_create(tenant=tenant_a, kind="knows", from_entity=a, to_entity=b)
    assert caught.value.error_dict["to_entity"][0].code == "cross_tenant"
    assert not Relationship.objects.exists()


def test_relationship_self_loop_and_bad_kind_are_refused(tenant_a):
    a = factories.entity(tenant=tenant_a)
    b = factories.entity(tenant=tenant_a)
    with pytest.raises(ValidationError):
        services.relationship_create(tenant=tenant_a, kind="knows", from_entity=a, to_entity=a)
    with pytest.raises(ValidationError):
        services.relationship_create(tenant=tenant_a, kind="Knows Well", from_entity=a, to_entity=b)


def test_entity_delete_removes_its_relationships_and_is_audited(tenant_a):
    a, b = factories.entity(tenant=tenant_a), factories.entity(tenant=tenant_a)
    services.relationship_create(tenant=tenant_a, kind="knows", from_entity=a, to_entity=b)
    services.entity_delete(entity=a)
    assert not Relationship.objects.exists()
    assert last_event().payload == {"kind": "person", "relationships_removed": 1}


def test_entity_with_merged_members_cannot_be_deleted(tenant_a):
    canonical = factories.entity(tenant=tenant_a)
    member = factories.entity(tenant=tenant_a)
    Entity.objects.filter(pk=member.pk).update(merged_into=canonical)
    with pytest.raises(ValidationError, match="merged members"):
        services.entity_delete(entity=canonical)
    assert Entity.objects.filter(pk=canonical.pk).exists()


def test_tenant_slug_rules(db):
    with pytest.raises(ValidationError):
        services.tenant_create(slug="Not A Slug")
    services.tenant_create(slug="ok-slug")
    with pytest.raises(ValidationError, match="already exists"):
        services.tenant_create(slug="ok-slug")


def test_expired_token_is_refused(tenant_a):
    from datetime import timedelta

    from django.utils import timezone

    user = factories.user(tenant=tenant_a)
    _, raw = services.api_token_issue(user=user, name="old", expires_at=timezone.now() - timedelta(seconds=1))
    assert services.api_token_authenticate(raw=raw) is None
    _, fresh = services.api_token_issue(user=user, name="new")
    assert services.api_token_authenticate(raw=fresh) == user
