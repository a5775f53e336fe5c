import uuid

import graphene

from apps.access.errors import PurposeError
from apps.access.graphql import subject_from
from apps.access.selectors import entity_read
from apps.core.graphql.types import EntityType
from intelgraph.graphql.errors import ApiError, ErrorCode


class Query(graphene.ObjectType):
    entity = graphene.Field(
        EntityType,
        id=graphene.ID(required=True, description="The entity's id."),
        description=(
            "One entity, if it exists in one of your tenants and the access policy lets you read it; "
            "attributes the policy withholds are listed in redactions."
        ),
    )

    @staticmethod
    def resolve_entity(root, info, id):
        subject = subject_from(info)
        try:
            entity_id = uuid.UUID(str(id))
        except ValueError:
            raise ApiError(f"{id!r} is not an entity id (a UUID).", ErrorCode.BAD_USER_INPUT, field="id") from None
        try:
            result = entity_read(subject=subject, entity_id=entity_id)
        except PurposeError as exc:
            raise ApiError(str(exc), ErrorCode.BAD_USER_INPUT, reason=exc.reason, allowed=exc.allowed) from None
        if result is None:
            # The same answer whether it does not exist, is another tenant's or is hidden: no oracle.
            raise ApiError("No such entity.", ErrorCode.NOT_FOUND)
        if result.masked:
            decision = result.decision
            raise ApiError(
                f"You may not read this entity: {decision.explanation}.",
                ErrorCode.FORBIDDEN,
                reason=decision.reason,
                rule=decision.rule,
            )
        return result
