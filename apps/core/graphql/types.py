"""GraphQL types of the core domain. Entities arrive already filtered and redacted by apps.access."""

import graphene

from apps.core.choices import Sensitivity

SensitivityEnum = graphene.Enum.from_enum(
    Sensitivity, description="How sensitive a record is; members read up to their clearance."
)


class TenantType(graphene.ObjectType):
    class Meta:
        name = "Tenant"
        description = "A customer organisation; every record belongs to exactly one."

    slug = graphene.String(required=True, description="Short identifier of the tenant.")
    name = graphene.String(required=True, description="Display name of the tenant.")


class RedactionType(graphene.ObjectType):
    class Meta:
        name = "Redaction"
        description = "An attribute withheld from you by policy: its name, why, and what would grant access."

    field = graphene.String(required=True, description="The attribute's name.")
    reason = graphene.String(
        required=True, description="Reason code, e.g. FIELD_CLEARANCE, FIELD_ROLE, PURPOSE_REQUIRED."
    )
    rule = graphene.String(required=True, description="The policy rule that decided, e.g. abac.field_clearance.")
    explanation = graphene.String(required=True, description="Why, and what would grant access, in words.")


def _entity_field(attname, default_value, root, info, **args):
    """Plain fields read the entity behind the RedactedEntity root; redacted ones have resolvers below."""
    return getattr(root.entity, attname, default_value)


class EntityType(graphene.ObjectType):
    class Meta:
        name = "Entity"
        description = "A person, organisation, account, address, phone, email, vehicle or event."
        default_resolver = _entity_field

    id = graphene.ID(required=True, description="Stable identifier (UUID).")
    tenant = graphene.Field(TenantType, required=True, description="The tenant that owns this entity.")
    kind = graphene.String(
        required=True, description="person, organization, account, address, phone, email, vehicle or event."
    )
    display_name = graphene.String(required=True, description="Name shown to analysts.")
    attributes = graphene.JSONString(
        required=True, description="Attributes you may read, as a JSON object; withheld ones are listed in redactions."
    )
    redactions = graphene.List(
        graphene.NonNull(RedactionType), required=True, description="Attributes withheld from you, with reasons."
    )
    sensitivity = graphene.Field(SensitivityEnum, required=True, description="Sensitivity level.")
    labels = graphene.List(graphene.NonNull(graphene.String), required=True, description="Free labels, sorted.")
    created_at = graphene.DateTime(required=True, description="When the entity was first written.")
    updated_at = graphene.DateTime(required=True, description="When the entity last changed.")

    # root: apps.access.services.RedactedEntity
    @staticmethod
    def resolve_id(root, info):
        return root.entity.pk

    @staticmethod
    def resolve_attributes(root, info):
        return root.attributes

    @staticmethod
    def resolve_redactions(root, info):
        return [
            {"field": r.field, "reason": r.reason, "rule": r.rule, "explanation": r.explanation}
            for r in root.redactions
        ]
