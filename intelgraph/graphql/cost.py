"""What one GraphQL operation would cost, computed from the document and its variables before anything runs.

The depth and field-count limits (intelgraph.graphql.limits) bound a document's shape, not its work: 120 aliased
``neighborhood(hops: 3, limit: 1000)`` fit under both and keep the database busy for half a minute. This rule
estimates the work and refuses an operation over ``settings.GRAPHQL_MAX_COST`` with ``QUERY_TOO_COSTLY`` (its
cost and the budget in ``extensions``), so nothing of it runs.

The cost of a field is ``work + size * (item + cost of its selections)``:

- ``work``: the field's own database work (``FIELD_WORK``; a neighbourhood walk grows with its hops);
- ``size``: how many items a list field returns: the page size its parent asks for (``PAGED``: ``first``,
  ``limit``), the length of an id list (``graphNodes``), else ``DEFAULT_LIST_SIZE``;
- ``item``: 1 for each object returned, 0 for scalars.

Sizes are taken from the arguments as the request sends them (inline or as variables, else the variable's or
the argument's default, else the largest the resolver accepts), clamped to the range the resolver accepts.
Introspection (``__schema``, ``__type``) costs nothing: it reads the schema in memory. The figures are units
of work, not milliseconds; ``docs/api/limits.md`` lists them with the default budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    validate,
    value_from_ast_untyped,
)
from graphql.pyutils import Undefined

DEFAULT_MAX_COST = 5000  # two of the largest neighbourhood pages, or 45 full search pages, in one request
DEFAULT_LIST_SIZE = 10  # items assumed for a list field whose size no argument gives (attributes, facets...)


@dataclass(frozen=True)
class Page:
    """A field whose argument sets the size of some of its child lists (one page of them)."""

    argument: str
    default: int
    maximum: int
    lists: tuple[str, ...]


# Page sizes, as apps/search/selectors.py and apps/graph/selectors.py accept them.
PAGED = {
    ("Query", "search"): Page("first", default=20, maximum=100, lists=("hits",)),
    ("Query", "neighborhood"): Page("limit", default=100, maximum=1000, lists=("nodes", "edges")),
}
# List fields whose size is the length of an argument: (argument, most items the resolver accepts).
SIZED_BY_ARGUMENT = {("Query", "graphNodes"): ("ids", 500)}
# Database work of a field itself, beyond the items it returns: a function of its arguments.
FIELD_WORK = {
    # Each hop is a graph-store expansion, a fetch of the rows found and a policy decision over them, up to the
    # expansion budget (GRAPH_EXPANSION_BUDGET edges); three hops on a hub reach it.
    ("Query", "neighborhood"): lambda args: 200 * _clamp(args("hops"), default=1, maximum=3),
    ("Query", "neighborhoodPreview"): lambda args: 20,
    ("Query", "search"): lambda args: 10,  # full-text match, ranking and the audit record
    # one row, a policy decision, the linked-record check, and an audit record when it is refused
    ("Query", "entity"): lambda args: 10,
    ("Query", "graphKinds"): lambda args: 5,
}


def _clamp(value, *, default: int, maximum: int) -> int:
    if value is None or value is Undefined:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        return maximum  # execution refuses it; until then assume the worst
    return max(1, min(value, maximum))


class _Costing:
    """The cost of one operation: a walk of its selections, fragments costed once per page context."""

    def __init__(self, schema, fragments, operation: OperationDefinitionNode, variables: dict):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.variable_defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or () if d.default_value
        }
        self.operation = operation
        self.memo: dict[tuple, int] = {}
        self.active: set[str] = set()

    def total(self) -> int:
        root = self.schema.get_root_type(self.operation.operation)
        return self.selections(self.operation.selection_set, root, {}) if root else 0

    def selections(self, selection_set, parent_type, page_sizes: dict[str, int]) -> int:
        cost = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost += self.field(selection, parent_type, page_sizes)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent_type
                cost += self.selections(selection.selection_set, inner or parent_type, page_sizes)
            elif isinstance(selection, FragmentSpreadNode):
                cost += self.fragment(selection.name.value, page_sizes)
        return cost

    def fragment(self, name: str, page_sizes: dict[str, int]) -> int:
        key = (name, tuple(sorted(page_sizes.items())))
        if key not in self.memo:
            fragment = self.fragments(name)
            if fragment is None or name in self.active:  # unknown or cyclic: other rules report it
                return 0
            self.active.add(name)
            inner = self.schema.get_type(fragment.type_condition.name.value)
            self.memo[key] = self.selections(fragment.selection_set, inner, page_sizes) if inner else 0
            self.active.discard(name)
        return self.memo[key]

    def field(self, node: FieldNode, parent_type, page_sizes: dict[str, int]) -> int:
        name = node.name.value
        definition = getattr(parent_type, "fields", {}).get(name)
        if name.startswith("__") or definition is None:
            return 0
        key = (parent_type.name, name)

        def argument(arg_name):
            return self.argument(node, definition, arg_name)

        size = 1
        if is_list_type(get_nullable_type(definition.type)):
            size = page_sizes.get(name, DEFAULT_LIST_SIZE)
            if key in SIZED_BY_ARGUMENT:
                arg_name, maximum = SIZED_BY_ARGUMENT[key]
                items = argument(arg_name)
                size = maximum if items is None or items is Undefined else len(items) if isinstance(items, list) else 1
                size = min(size, maximum)
        child_pages = {}
        if key in PAGED:
            page = PAGED[key]
            child_pages = dict.fromkeys(
                page.lists, _clamp(argument(page.argument), default=page.default, maximum=page.maximum)
            )
        named = get_named_type(definition.type)
        children = self.selections(node.selection_set, named, child_pages) if node.selection_set else 0
        work = FIELD_WORK[key](argument) if key in FIELD_WORK else 0
        return work + size * ((1 if is_composite_type(named) else 0) + children)

    def argument(self, node: FieldNode, definition, name: str):
        """The argument's value as this request gives it, or its default; None when nothing says."""
        given = next((a.value for a in node.arguments or () if a.name.value == name), None)
        if isinstance(given, VariableNode):
            variable = given.name.value
            if variable in self.variables:
                return self.variables[variable]
            given = self.variable_defaults.get(variable)
        if given is not None:
            return value_from_ast_untyped(given, self.variables)
        arg = definition.args.get(name)
        default = arg.default_value if arg is not None else Undefined
        return None if default is Undefined else default


def too_costly_error(cost: int, budget: int, node=None) -> GraphQLError:
    return GraphQLError(
        f"The query would cost {cost} units of work; one request may cost at most {budget}. Ask for smaller pages "
        "(first, limit), fewer hops or fewer aliases, or split it into several requests.",
        node,
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "budget": budget},
    )


def cost_limit_rule(variables: dict | None, budget: int) -> type[ValidationRule]:
    """A validation rule refusing each operation of the document that would cost more than ``budget``."""

    class QueryCostLimit(ValidationRule):
        def enter_operation_definition(self, node, *args):
            cost = _Costing(self.context.schema, self.context.get_fragment, node, variables or {}).total()
            if cost > budget:
                self.report_error(too_costly_error(cost, budget, node))

    return QueryCostLimit


def check(schema, document, variables: dict | None) -> list[GraphQLError]:
    """Errors for operations over the budget (settings.GRAPHQL_MAX_COST); run after the standard validation."""
    return validate(schema, document, [cost_limit_rule(variables, settings.GRAPHQL_MAX_COST)])


def document_cost(schema, document, variables: dict | None = None) -> int:
    """The cost of the document's costliest operation."""
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return max((_Costing(schema, fragments.get, op, variables or {}).total() for op in operations), default=0)
