"""The schema's custom scalars, with descriptions that say their wire format (integrators read them in GraphiQL).

graphene's own ``JSONString`` and ``DateTime`` under the same names and with the same behaviour: only the
descriptions are ours. Use these, never ``graphene.JSONString``/``graphene.DateTime``: two classes of one name
cannot share a schema (tests/test_schema.py checks every custom scalar is one of ours).
"""

import graphene


class JSONString(graphene.JSONString):
    class Meta:
        name = "JSONString"
        description = (
            "A JSON value (RFC 8259) carried as a string of JSON text, not as a GraphQL object. In answers it is a "
            'string to parse, such as "{\\"city\\": \\"Oslo\\"}" (characters outside ASCII \\u-escaped). As an '
            'argument, send a string holding JSON text, such as "{\\"kind\\": \\"person\\"}", inline or as a '
            "string variable."
        )


class DateTime(graphene.DateTime):
    class Meta:
        name = "DateTime"
        description = (
            "An instant, as an ISO 8601 string in the RFC 3339 profile with its UTC offset, such as "
            '"2026-01-31T09:30:00.123456+00:00". The server answers in UTC; the fraction of a second is left out '
            "when it is zero."
        )
