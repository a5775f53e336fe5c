"""The access-control subject of a GraphQL request, for resolvers (they sit above the access layer)."""

from __future__ import annotations

from apps.access.errors import PurposeError
from apps.access.services import subject_for_request
from intelgraph.graphql.errors import ApiError, ErrorCode, require_user


def subject_from(info):
    """The access-control subject of a GraphQL request: the user, and the purpose from x-ig-purpose
    (or, for a browser session, the purpose declared with the selector)."""
    require_user(info)
    try:
        return subject_for_request(info.context)
    except PurposeError as exc:
        raise ApiError(str(exc), ErrorCode.BAD_USER_INPUT, reason=exc.reason) from None
