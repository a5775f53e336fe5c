"""Limits on what one GraphQL request may cost: depth, number of fields, database time.

Violations are GraphQL errors with codes (QUERY_TOO_DEEP, QUERY_TOO_COMPLEX, TIMEOUT), never a 500.
Page sizes are bounded by each list field's own `first` argument (search: 1-100).
"""

from graphql import FieldNode, FragmentSpreadNode, GraphQLError, InlineFragmentNode, ValidationRule, specified_rules

MAX_DEPTH = 10
MAX_FIELDS = 250  # field selections in one document, aliases and fragments counted where used
STATEMENT_TIMEOUT_MS = 5000


class FieldCountLimit(ValidationRule):
    """Refuse documents that select too many fields (aliases let one request ask for the same thing 1,000 times)."""

    def __init__(self, context):
        super().__init__(context)
        self.count = 0

    def enter_field(self, node, *args):
        self.count += 1
        if self.count == MAX_FIELDS + 1:
            self.report_error(
                GraphQLError(
                    f"The query selects more than {MAX_FIELDS} fields; split it or ask for less.",
                    node,
                    extensions={"code": "QUERY_TOO_COMPLEX"},
                )
            )


class DepthLimit(ValidationRule):
    """Refuse documents nested deeper than MAX_DEPTH, introspection included (its type cycles can be deep)."""

    def enter_operation_definition(self, node, *args):
        depth = self._depth(node.selection_set, 0, set())
        if depth > MAX_DEPTH:
            self.report_error(
                GraphQLError(
                    f"The query is nested {depth} levels deep; at most {MAX_DEPTH} are allowed.",
                    node,
                    extensions={"code": "QUERY_TOO_DEEP"},
                )
            )

    def _depth(self, selection_set, level, seen_fragments) -> int:
        if selection_set is None or level > MAX_DEPTH:
            return level
        deepest = level
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                deepest = max(deepest, self._depth(selection.selection_set, level + 1, seen_fragments))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self._depth(selection.selection_set, level, seen_fragments))
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen_fragments:
                fragment = self.context.get_fragment(selection.name.value)
                if fragment is not None:
                    deepest = max(
                        deepest, self._depth(fragment.selection_set, level, seen_fragments | {selection.name.value})
                    )
        return deepest


# graphene-django passes these to graphql-core's validate() in place of the standard rules, so they come first.
VALIDATION_RULES = (*specified_rules, DepthLimit, FieldCountLimit)
