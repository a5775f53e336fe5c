import graphene
from graphene_django import DjangoObjectType

from apps.core.choices import Sensitivity
from apps.core.models import Entity, Tenant

SensitivityEnum = graphene.Enum.from_enum(
    Sensitivity, description="How sensitive a record is; members read up to their clearance."
)


class TenantType(DjangoObjectType):
    slug = graphene.String(required=True, description="Short identifier of the tenant.")
    name = graphene.String(required=True, description="Display name of the tenant.")

    class Meta:
        model = Tenant
        name = "Tenant"
        description = "A customer organisation; every record belongs to exactly one."
        fields = ("slug", "name")


class EntityType(DjangoObjectType):
    id = graphene.ID(required=True, description="Stable identifier (UUID).")
    kind = graphene.String(
        required=True, description="person, organization, account, address, phone, email, vehicle or event."
    )
    display_name = graphene.String(required=True, description="Name shown to analysts.")
    attributes = graphene.JSONString(required=True, description="Attributes as a JSON object.")
    sensitivity = graphene.Field(SensitivityEnum, required=True, description="Sensitivity level.")
    labels = graphene.List(graphene.NonNull(graphene.String), required=True, description="Free labels, sorted.")
    tenant = graphene.Field(TenantType, required=True, description="The tenant that owns this entity.")
    created_at = graphene.DateTime(required=True, description="When the entity was first written.")
    updated_at = graphene.DateTime(required=True, description="When the entity last changed.")

    class Meta:
        model = Entity
        name = "Entity"
        description = "A person, organisation, account, address, phone, email, vehicle or event."
        fields = (
            "id",
            "kind",
            "display_name",
            "attributes",
            "sensitivity",
            "labels",
            "tenant",
            "created_at",
            "updated_at",
        )

    @staticmethod
    def resolve_sensitivity(entity, info):
        return entity.sensitivity
