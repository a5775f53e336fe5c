"""Limits on what one GraphQL request may cost: depth, number of fields, database time.

Violations are GraphQL errors with codes (QUERY_TOO_DEEP, QUERY_TOO_COMPLEX, TIMEOUT), never a 500.
Page sizes are bounded by each list field's own `first` argument (search: 1-100).
"""

from graphql import FieldNode, FragmentSpreadNode, GraphQLError, InlineFragmentNode, ValidationRule, specified_rules

MAX_DEPTH = 10
MAX_INTROSPECTION_DEPTH = 15
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
    """Refuse documents nested deeper than MAX_DEPTH.

    Introspection (fields starting with "__") gets MAX_INTROSPECTION_DEPTH instead: GraphiQL's own
    schema query nests type references about 13 levels, and its cycles are what an attacker would
    nest further.
    """

    def enter_operation_definition(self, node, *args):
        depth, introspection_depth = self._depth(node.selection_set, 0, set(), False)
        if depth > MAX_DEPTH or introspection_depth > MAX_INTROSPECTION_DEPTH:
            limit = MAX_DEPTH if depth > MAX_DEPTH else MAX_INTROSPECTION_DEPTH
            self.report_error(
                GraphQLError(
                    f"The query is nested {max(depth, introspection_depth)} levels deep; at most {limit} are allowed.",
                    node,
                    extensions={"code": "QUERY_TOO_DEEP"},
                )
            )

    def _depth(self, selection_set, level, seen_fragments, introspecting) -> tuple[int, int]:
        """(deepest ordinary level, deepest introspection level) below this selection set."""
        if selection_set is None or level > MAX_INTROSPECTION_DEPTH:
            return (0, level) if introspecting else (level, 0)
        deepest, deepest_introspection = (0, level) if introspecting else (level, 0)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inside = introspecting or selection.name.value.startswith("__")
                child = self._depth(selection.selection_set, level + 1, seen_fragments, inside)
            elif isinstance(selection, InlineFragmentNode):
                child = self._depth(selection.selection_set, level, seen_fragments, introspecting)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen_fragments:
                fragment = self.context.get_fragment(selection.name.value)
                if fragment is None:
                    continue
                name = selection.name.value
                child = self._depth(fragment.selection_set, level, seen_fragments | {name}, introspecting)
            else:
                continue
            deepest, deepest_introspection = max(deepest, child[0]), max(deepest_introspection, child[1])
        return deepest, deepest_introspection


# graphene-django passes these to graphql-core's validate() in place of the standard rules, so they come first.
VALIDATION_RULES = (*specified_rules, DepthLimit, FieldCountLimit)
