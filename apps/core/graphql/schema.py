import uuid

import graphene

from apps.core import selectors
from apps.core.graphql.types import EntityType
from intelgraph.api import ApiError, ErrorCode, require_user


class Query(graphene.ObjectType):
    entity = graphene.Field(
        EntityType,
        id=graphene.ID(required=True, description="The entity's id."),
        description="One entity, if it exists in one of your tenants and you are cleared to read it.",
    )

    @staticmethod
    def resolve_entity(root, info, id):
        user = require_user(info)
        try:
            entity_id = uuid.UUID(str(id))
        except ValueError:
            raise ApiError(f"{id!r} is not an entity id (a UUID).", ErrorCode.BAD_USER_INPUT, field="id") from None
        entity = selectors.entity_get(user=user, entity_id=entity_id)
        if entity is None:
            # The same answer whether it does not exist or belongs to someone else: no oracle.
            raise ApiError("No such entity.", ErrorCode.NOT_FOUND)
        return entity
