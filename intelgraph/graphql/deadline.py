"""A wall-clock budget for one GraphQL request (settings.GRAPHQL_REQUEST_TIMEOUT_SECONDS).

PostgreSQL's statement_timeout (query_limits.STATEMENT_TIMEOUT_MS) bounds each SQL statement, not a request:
a request of many statements could hold a connection and a worker for half a minute. The budget starts when
the view receives the request and is enforced in two places:

- before each SQL statement (a connection execute_wrapper installed for the request): a statement starting
  after the deadline is not sent; one starting with less time left than the per-statement limit first lowers
  the session's statement_timeout to what is left, so PostgreSQL cancels it at the deadline;
- between resolvers (the execution context): a field starting after the deadline resolves to a TIMEOUT error
  instead of running.

The answer is HTTP 200 with ``errors`` whose ``extensions.code`` is ``TIMEOUT`` (and ``data`` as far as it
got, usually null as the root fields are non-null), like any error raised while executing. Nothing is left
half-written: a statement PostgreSQL cancels rolls back with its transaction (every service and audit record
runs in ``transaction.atomic``), and a mutation in which a TIMEOUT occurs is rolled back as a whole.
"""

from __future__ import annotations

import time

from django.db import OperationalError
from graphql import ExecutionContext, located_error
from graphql.execution.execute import get_field_def

MIN_STATEMENT_MS = 1  # statement_timeout = 0 would mean no limit at all


class RequestTimeout(OperationalError):
    """The request's wall-clock budget ran out before this statement or field started."""

    def __init__(self, budget_seconds: float):
        super().__init__(f"The request ran over its {budget_seconds:g} s budget")
        self.budget_seconds = budget_seconds


class Deadline:
    """When the request must be done by, and the statement wrapper that keeps the database to it."""

    def __init__(self, budget_seconds: float, statement_timeout_ms: int):
        self.budget_seconds = budget_seconds
        self.at = time.monotonic() + budget_seconds
        self.statement_timeout_ms = statement_timeout_ms

    def remaining_ms(self) -> int:
        return int((self.at - time.monotonic()) * 1000)

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def check(self) -> None:
        if self.passed():
            raise RequestTimeout(self.budget_seconds)

    def __call__(self, execute, sql, params, many, context):
        """django.db execute_wrapper: no statement after the deadline, none running past it."""
        remaining = self.remaining_ms()
        if remaining < MIN_STATEMENT_MS:
            raise RequestTimeout(self.budget_seconds)
        if remaining >= self.statement_timeout_ms:
            return execute(sql, params, many, context)
        # Set on each such statement, not once: a rolled-back transaction restores the earlier value.
        execute(f"SET statement_timeout = {int(remaining)}", None, False, context)
        try:
            return execute(sql, params, many, context)
        except OperationalError as exc:
            if "statement timeout" in str(exc):  # cancelled at the request's deadline, not the statement's
                raise RequestTimeout(self.budget_seconds) from exc
            raise


def deadline_of(context_value) -> Deadline | None:
    return getattr(context_value, "graphql_deadline", None)


class DeadlineExecutionContext(ExecutionContext):
    """graphql-core's execution, but a field that starts after the request's deadline is a TIMEOUT error.

    A check per field costs a clock read; graphql-core middleware would do the same but turns off the fast
    completion of leaf types (intelgraph.graphql.execution), which needs no middleware to run.
    """

    def execute_field(self, parent_type, source, field_nodes, path):
        deadline = deadline_of(self.context_value)
        if deadline is not None and deadline.passed():
            field_def = get_field_def(self.schema, parent_type, field_nodes[0])
            error = located_error(RequestTimeout(deadline.budget_seconds), field_nodes, path.as_list())
            self.handle_field_error(error, field_def.type, path)
            return None
        return super().execute_field(parent_type, source, field_nodes, path)
