"""A faster completion of leaf-only object types for graphql-core's executor.

A neighbourhood page holds hundreds of GraphNode and GraphEdge objects whose fields are all scalars (or lists of
scalars) read as plain attributes. graphql-core resolves each of their thousands of fields one by one (a
resolve-info object, a path, a completion per value). For object types listed in ``FAST_TYPES``, whose every
field has graphene's default attribute resolver and no arguments, this execution context reads the attribute and
serialises the scalar directly. Anything it cannot handle exactly as graphql-core would (a null in a non-null
field, an unexpected type, a field with a resolver) falls back to the standard path for that object, so errors
and results are the same. Tests compare both paths on real pages.
"""

from __future__ import annotations

import functools

from graphql import GraphQLList, GraphQLNonNull, GraphQLScalarType
from graphql.pyutils import Undefined

from intelgraph.graphql.deadline import DeadlineExecutionContext

FAST_TYPES = frozenset({"GraphNode", "GraphEdge", "KindCount"})


@functools.lru_cache(maxsize=64)
def _plan(parent_type) -> dict | None:
    """field name -> (attribute name, non-null, list-of, scalar type), or None if a field needs the full path."""
    from graphene.types.resolver import dict_or_attr_resolver

    plan = {}
    for name, field in parent_type.fields.items():
        resolver = field.resolve
        if field.args or not (isinstance(resolver, functools.partial) and resolver.func is dict_or_attr_resolver):
            return None
        attname = resolver.args[0]
        kind, non_null, list_of = field.type, False, False
        if isinstance(kind, GraphQLNonNull):
            kind, non_null = kind.of_type, True
        if isinstance(kind, GraphQLList):
            inner = kind.of_type
            if isinstance(inner, GraphQLNonNull):
                inner = inner.of_type
            if not isinstance(inner, GraphQLScalarType):
                return None
            kind, list_of = inner, True
        if not isinstance(kind, GraphQLScalarType):
            return None
        plan[name] = (attname, non_null, list_of, kind)
    return plan


class _Fallback(Exception):
    pass


class FastLeafExecutionContext(DeadlineExecutionContext):
    """Leaf objects read directly; every other field as graphql-core does, within the request's deadline."""

    def execute_fields(self, parent_type, source_value, path, fields):
        # Only without field middleware (DEBUG adds graphene's debug middleware, which must see every field).
        if parent_type.name in FAST_TYPES and self.middleware_manager is None and not isinstance(source_value, dict):
            plan = _plan(parent_type)
            if plan is not None:
                try:
                    return self._fast(parent_type, plan, source_value, fields)
                except _Fallback:
                    pass
        return super().execute_fields(parent_type, source_value, path, fields)

    @staticmethod
    def _fast(parent_type, plan, source, fields) -> dict:
        results = {}
        for response_name, field_nodes in fields.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                results[response_name] = parent_type.name
                continue
            entry = plan.get(name)
            if entry is None or field_nodes[0].directives:
                raise _Fallback
            attname, non_null, list_of, scalar = entry
            value = getattr(source, attname, None)
            if value is None or value is Undefined:
                if non_null:
                    raise _Fallback  # let the standard path raise the proper error
                results[response_name] = None
            elif list_of:
                if not isinstance(value, (list, tuple)) or any(v is None for v in value):
                    raise _Fallback
                results[response_name] = [scalar.serialize(v) for v in value]
            else:
                results[response_name] = scalar.serialize(value)
        return results
