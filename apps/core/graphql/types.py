"""GraphQL types of the core domain. Entities arrive already filtered and redacted by apps.access."""

import graphene

from apps.access.graphql import subject_from
from apps.access.selectors import readable
from apps.core.choices import Sensitivity
from apps.core.graphql.scalars import DateTime, JSONString
from apps.core.selectors import merged_member_ids, provenance_for_entity
from apps.versioning.deprecations import denied_after_eol
from intelgraph.graphql.errors import ApiError

SENSITIVITY_LEVELS = {
    Sensitivity.PUBLIC: "Level 0, the lowest: every member of the tenant may read it.",
    Sensitivity.INTERNAL: "Level 1: members with internal clearance or higher; new entities default to it.",
    Sensitivity.CONFIDENTIAL: "Level 2: members with confidential clearance or higher.",
    Sensitivity.SECRET: "Level 3: members with secret clearance or higher.",
    Sensitivity.TOP_SECRET: "Level 4, the highest: only members with top secret clearance.",
}


def _sensitivity_description(level) -> str:
    """graphene asks with None for the enum's own description, then with each level for the value's."""
    if level is None:
        return "How sensitive a record is; members read up to their clearance."
    return SENSITIVITY_LEVELS[level]


SensitivityEnum = graphene.Enum.from_enum(Sensitivity, description=_sensitivity_description)


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


class AttributeType(graphene.ObjectType):
    class Meta:
        name = "Attribute"
        description = "One attribute of an entity; withheld ones say so, with the reason, instead of their value."

    name = graphene.String(required=True, description="Attribute name.")
    text = graphene.String(description="The value as text (JSON for non-string values); null when withheld.")
    json = JSONString(description="The value as JSON; null when withheld.")
    redacted = graphene.Boolean(required=True, description="True when the access policy withholds the value from you.")
    reason = graphene.String(description="Why it is withheld (reason code), when redacted.")
    value = graphene.String(
        description="The value as text. Replaced by text.",
        deprecation_reason="Use Attribute.text instead; Attribute.value ends on 2026-03-31 (EOL).",
    )

    @staticmethod
    def resolve_value(root, info):
        denied = denied_after_eol(["Attribute.value"])
        if "Attribute.value" in denied:
            replacement = denied["Attribute.value"]["replacement"]
            raise ApiError(
                f"Attribute.value ended on {denied['Attribute.value']['eol']}; use {replacement} instead.",
                "FIELD_PAST_EOL",
                replacement=replacement,
            )
        return root["text"]


class ProvenanceType(graphene.ObjectType):
    class Meta:
        name = "Provenance"
        description = "Where (part of) an entity came from: a source, how it was written, and when."

    source = graphene.String(required=True, description="Name of the source.")
    source_kind = graphene.String(required=True, description="Kind of source: manual, import, demo, api, ...")
    method = graphene.String(required=True, description="How the record was written (manual, import, demo, ...).")
    fields = graphene.List(
        graphene.NonNull(graphene.String), required=True, description="Attributes this source gave or changed."
    )
    record_ref = graphene.String(required=True, description="Where in the source, e.g. 'people.jsonl:12'.")
    recorded_at = DateTime(required=True, description="When it was recorded.")


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
    display_name = graphene.String(
        required=True,
        description="Name shown to analysts; a part built from an attribute withheld from you reads [withheld].",
    )
    attributes = JSONString(
        required=True, description="Attributes you may read, as a JSON object; withheld ones are listed in redactions."
    )
    redactions = graphene.List(
        graphene.NonNull(RedactionType), required=True, description="Attributes withheld from you, with reasons."
    )
    attribute_list = graphene.List(
        graphene.NonNull(AttributeType),
        required=True,
        description="Every attribute, sorted by name; withheld ones marked redacted with their reason.",
    )
    sensitivity = graphene.Field(SensitivityEnum, required=True, description="Sensitivity level.")
    labels = graphene.List(graphene.NonNull(graphene.String), required=True, description="Free labels, sorted.")
    created_at = DateTime(required=True, description="When the entity was first written.")
    updated_at = DateTime(required=True, description="When the entity last changed.")
    provenance = graphene.List(
        graphene.NonNull(ProvenanceType),
        required=True,
        description="Sources of this entity, newest first (at most 50).",
    )
    merged_into = graphene.ID(description="The entity this one was merged into (entity resolution), if any.")
    merged_members = graphene.List(
        graphene.NonNull(graphene.ID),
        required=True,
        description="Entities merged into this one (its resolution cluster), at most 100.",
    )

    # root: apps.access.selectors.RedactedEntity
    @staticmethod
    def resolve_id(root, info):
        return root.entity.pk

    @staticmethod
    def resolve_attributes(root, info):
        return root.attributes

    @staticmethod
    def resolve_display_name(root, info):
        return root.display_name

    @staticmethod
    def resolve_provenance(root, info):

        return [
            {
                "source": p.source.name,
                "source_kind": p.source.kind,
                "method": p.method,
                "fields": p.fields,
                "record_ref": p.record_ref,
                "recorded_at": p.recorded_at,
            }
            for p in provenance_for_entity(entity=root.entity)
        ]

    @staticmethod
    def resolve_merged_into(root, info):
        shown = readable(subject=subject_from(info), action="read").ids([root.entity.merged_into_id])
        return shown[0] if shown else None

    @staticmethod
    def resolve_merged_members(root, info):

        return readable(subject=subject_from(info), action="read").ids(merged_member_ids(entity=root.entity))

    @staticmethod
    def resolve_attribute_list(root, info):
        import json

        withheld = {r.field: r for r in root.redactions}
        visible = root.attributes
        result = []
        for name in sorted(set(visible) | set(withheld)):
            if name in withheld:
                result.append(
                    {"name": name, "text": None, "json": None, "redacted": True, "reason": withheld[name].reason}
                )
            else:
                value = visible[name]
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                result.append({"name": name, "text": text, "json": value, "redacted": False, "reason": None})
        return result

    @staticmethod
    def resolve_redactions(root, info):
        return [
            {"field": r.field, "reason": r.reason, "rule": r.rule, "explanation": r.explanation}
            for r in root.redactions
        ]
