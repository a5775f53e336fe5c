"""The typed form of search's filter grammar: ``filter: SearchFilter`` means what the ``filters`` JSON means.

Each input becomes the JSON object of the grammar (``as_filters``), which the grammar's one parser reads
(``apps.search.selectors``), so both forms give the same results and the same errors. GraphQL's types check
the shape; the parser checks the values (BAD_USER_INPUT). A null field is a field left out, as usual in GraphQL.
The grammar's JSON Schema, graphql/schemas/search-filters.v1.json, has the same keys and operators; the tests
hold all three together.
"""

from __future__ import annotations

import graphene
from graphql import GraphQLError, print_ast
from graphql.language import ast

from apps.core.choices import EntityKind
from apps.core.graphql.types import SensitivityEnum
from apps.search.selectors import RANGE_OPERATORS, SearchInputError

DATE_FORMAT = (
    "an ISO 8601 date or date-time: YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.ffffff]] with an optional Z or "
    "+HH:MM/-HH:MM offset (UTC when none; a date alone is its midnight, UTC)"
)


class AttributeValue(graphene.Scalar):
    """An attribute's value in a search filter (input only)."""

    class Meta:
        description = (
            "A string (at most 200 characters), a number or a boolean: on the wire the GraphQL literal or JSON "
            'value of its type, such as "Oslo", 100, 2.5 or true. Compared by type: 100 matches the number 100, '
            'not the string "100".'
        )

    @staticmethod
    def serialize(value):
        return value

    @classmethod
    def parse_literal(cls, node, _variables=None):
        if isinstance(node, ast.StringValueNode | ast.BooleanValueNode):
            return node.value
        if isinstance(node, ast.IntValueNode):
            return int(node.value)
        if isinstance(node, ast.FloatValueNode):
            return float(node.value)
        raise GraphQLError(f"AttributeValue is a string, number or boolean, not {print_ast(node)}.")

    @staticmethod
    def parse_value(value):
        if isinstance(value, str | int | float | bool):
            return value
        raise GraphQLError(f"AttributeValue is a string, number or boolean, not {type(value).__name__}.")


def _bounds(value) -> dict:
    """The range operators given (not null) on a range input, in the grammar's order."""
    return {op: getattr(value, op) for op in RANGE_OPERATORS if getattr(value, op) is not None}


class DateRangeFilterInput(graphene.InputObjectType):
    class Meta:
        name = "DateRangeFilter"
        description = f"A range of instants: give at least one bound. Each bound is {DATE_FORMAT}."

    gt = graphene.String(description="After this instant.")
    gte = graphene.String(description="At or after this instant.")
    lt = graphene.String(description="Before this instant.")
    lte = graphene.String(description="At or before this instant.")


class SensitivityFilterInput(graphene.InputObjectType):
    class Meta:
        name = "SensitivityFilter"
        description = "Sensitivity levels: anyOf, or a range (at least one of gt, gte, lt, lte), not both."

    any_of = graphene.List(graphene.NonNull(SensitivityEnum), description="Any of these levels (at least one).")
    gt = graphene.InputField(SensitivityEnum, description="Above this level.")
    gte = graphene.InputField(SensitivityEnum, description="At this level or above.")
    lt = graphene.InputField(SensitivityEnum, description="Below this level.")
    lte = graphene.InputField(SensitivityEnum, description="At this level or below.")

    def as_filter(self):
        bounds = _bounds(self)
        if self.any_of is not None and bounds:
            raise SearchInputError("filter.sensitivity: give anyOf or a range (gt, gte, lt, lte), not both.")
        if self.any_of is not None:
            return [int(level) for level in self.any_of]
        if not bounds:
            raise SearchInputError("filter.sensitivity: give anyOf or at least one of gt, gte, lt, lte.")
        return {op: int(level) for op, level in bounds.items()}


class AttributeFilterInput(graphene.InputObjectType):
    class Meta:
        name = "AttributeFilter"
        description = (
            "A condition on one attribute: equals, or a range (at least one of gt, gte, lt, lte), not both. "
            "A range compares numbers with numbers and strings with strings; other values never match."
        )

    name = graphene.String(required=True, description="The attribute's name, 1-100 characters.")
    equals = AttributeValue(description="The attribute has exactly this value (and type).")
    gt = AttributeValue(description="The attribute is greater than this.")
    gte = AttributeValue(description="The attribute is at least this.")
    lt = AttributeValue(description="The attribute is less than this.")
    lte = AttributeValue(description="The attribute is at most this.")

    def as_filter(self):
        bounds = _bounds(self)
        if self.equals is not None and bounds:
            raise SearchInputError(
                f"filter.attributes.{self.name}: give equals or a range (gt, gte, lt, lte), not both."
            )
        if self.equals is not None:
            return self.equals
        if not bounds:
            raise SearchInputError(f"filter.attributes.{self.name}: give equals or at least one of gt, gte, lt, lte.")
        return bounds


class SearchFilterInput(graphene.InputObjectType):
    class Meta:
        name = "SearchFilter"
        description = (
            "Narrows a search; every field given must hold. The typed form of the filters JSON: the same keys "
            "and operators, the same meaning (JSON Schema: /graphql/schemas/search-filters.v1.json). A list field "
            "takes one value or a list."
        )

    kind = graphene.List(
        graphene.NonNull(graphene.String), description=f"Any of these entity kinds: {', '.join(EntityKind.values)}."
    )
    labels = graphene.List(graphene.NonNull(graphene.String), description="Has all of these labels.")
    sensitivity = graphene.InputField(SensitivityFilterInput, description="Sensitivity levels.")
    created = graphene.InputField(DateRangeFilterInput, description="When the entity was first written.")
    updated = graphene.InputField(DateRangeFilterInput, description="When the entity last changed.")
    source = graphene.List(graphene.NonNull(graphene.String), description="Came from any of these sources (by name).")
    tenant = graphene.List(
        graphene.NonNull(graphene.String),
        description="Only these of your tenants (slugs); a slug that is not one of yours is an error.",
    )
    attributes = graphene.List(
        graphene.NonNull(AttributeFilterInput),
        description=(
            "Every one of these conditions holds, at most one per attribute name. Filtering on an attribute the "
            "access policy withholds from you is refused (FORBIDDEN)."
        ),
    )

    def as_filters(self) -> dict:
        """This filter as the grammar's JSON object, null fields left out."""
        filters = {}
        for key in ("kind", "labels", "source", "tenant"):
            if getattr(self, key) is not None:
                filters[key] = list(getattr(self, key))
        if self.sensitivity is not None:
            filters["sensitivity"] = self.sensitivity.as_filter()
        for key in ("created", "updated"):
            if getattr(self, key) is not None:
                filters[key] = _bounds(getattr(self, key))
        if self.attributes is not None:
            filters["attributes"] = _attributes(self.attributes)
        return filters


def _attributes(conditions) -> dict:
    if not conditions:
        raise SearchInputError("filter.attributes: give at least one condition.")
    attributes = {}
    for condition in conditions:
        if condition.name in attributes:
            raise SearchInputError(
                f"filter.attributes: {condition.name!r} is given twice; give one condition per attribute "
                "(a range takes several bounds)."
            )
        attributes[condition.name] = condition.as_filter()
    return attributes


def typed_message(message: str) -> str:
    """The parser names paths in the filters JSON (filters.kind…); the typed argument's are the same under filter."""
    return "filter" + message[len("filters") :] if message.startswith("filters") else message
