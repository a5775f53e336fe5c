"""The Rego policy bundle: loaded from ``policies/``, compiled with regopy, identified by its SHA-256.

A bundle is replaced only by one that compiles completely, so a broken edit
never leaves a half-replaced policy in force. Evaluation uses per-thread
interpreters holding pre-built (compiled) entry points.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from apps.access.errors import PolicyCompileError, PolicyEvaluationError

ENTRYPOINTS = {
    "abac": "data.intelgraph.abac.page",
    "purpose": "data.intelgraph.purpose.check",
    "schema": "data.intelgraph.schema.denied",
    "admin_change": "data.intelgraph.abac.admin_change",
    "tenant_read": "data.intelgraph.abac.tenant_read",
    "operation": "data.intelgraph.operations.check",
    "roles": "data.intelgraph.roles.check",
    "purpose_accepted": "data.intelgraph.purpose.accepted",
}
# Policy data the enforcement layer needs to reduce a page to decision classes.
DATA_QUERIES = {
    "compartments": "data.intelgraph.abac.compartments",
    "field_rules": "data.intelgraph.abac.field_rules",
    "masking_actions": "data.intelgraph.abac.masking_actions",
    "edge_rules": "data.intelgraph.abac.edge_rules",
    "mask_gap": "data.intelgraph.abac.mask_gap",
    "deprecations": "data.intelgraph.schema.deprecations",
    "operation_tags": "data.intelgraph.operations.tag_actions",
    "tenant_read_roles": "data.intelgraph.abac.tenant_read_roles",
    "roles": "data.intelgraph.roles.roles",
}
_ERROR_LOCATION = re.compile(r"\(error \d+:(?P<path>[^|]+)\|(?P<offset>\d+)\|")
_ERROR_MESSAGE = re.compile(r"\(errormsg \d+:(?P<message>[^)]*)\)")


@dataclass(frozen=True)
class PolicyBundle:
    sha256: str
    sources: dict[str, str]
    data: dict = field(default_factory=dict)

    @property
    def compartments(self) -> frozenset[str]:
        return frozenset(self.data["compartments"])

    @property
    def governed_fields(self) -> frozenset[str]:
        return frozenset(self.data["field_rules"])


def _bundle_files(directory: Path) -> dict[str, str]:
    files = sorted(p for p in directory.glob("*.rego") if not p.name.endswith("_test.rego"))
    if not files:
        raise PolicyCompileError(f"{directory}: no .rego files")
    return {f"policies/{p.name}": p.read_text() for p in files}


def _sha256(sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path, text in sorted(sources.items()):
        digest.update(path.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _compile_error(exc: Exception, sources: dict[str, str]) -> PolicyCompileError:
    text = str(exc)
    location = _ERROR_LOCATION.search(text)
    message = _ERROR_MESSAGE.search(text)
    reason = message.group("message").strip() if message else text.strip().splitlines()[0]
    if location and location.group("path") in sources:
        path, offset = location.group("path"), int(location.group("offset"))
        line = sources[path][:offset].count("\n") + 1
        return PolicyCompileError(f"{path}:{line}: {reason}")
    return PolicyCompileError(f"policy bundle: {reason}")


class _Engine:
    """One regopy interpreter with the bundle's entry points built; not shared between threads."""

    def __init__(self, sources: dict[str, str]) -> None:
        from regopy import Interpreter

        self.interpreter = Interpreter()
        for path, text in sources.items():
            self.interpreter.add_module(path, text)
        self.built = {
            name: self.interpreter.build(query, [query.removeprefix("data.").replace(".", "/")])
            for name, query in ENTRYPOINTS.items()
        }

    def evaluate(self, name: str, input_document: dict):
        from regopy.rego_shared import RegoError

        try:
            self.interpreter.set_input(input_document)
            output = self.interpreter.query_bundle(self.built[name])
        except (RegoError, RuntimeError, ValueError) as exc:
            raise PolicyEvaluationError(f"{name}: {exc}") from exc
        if not output.ok():
            raise PolicyEvaluationError(f"{name}: {output}")
        return _first_value(output)

    def data(self, query: str):
        output = self.interpreter.query(query)
        return _first_value(output)


def _first_value(output):
    parsed = json.loads(str(output)) if str(output) not in ("", "undefined") else {}
    expressions = parsed.get("expressions") or [None]
    return expressions[0]


def compile_bundle(directory: Path | None = None) -> PolicyBundle:
    """Read and compile every policy; raise PolicyCompileError naming file and line."""
    from regopy.rego_shared import RegoError

    directory = Path(directory or settings.POLICY_DIR)
    sources = _bundle_files(directory)
    try:
        engine = _Engine(sources)
        data = {name: engine.data(query) for name, query in DATA_QUERIES.items()}
    except (RegoError, RuntimeError) as exc:
        raise _compile_error(exc, sources) from None
    return PolicyBundle(sha256=_sha256(sources), sources=sources, data=data)


_lock = threading.Lock()
_current: PolicyBundle | None = None


def current_bundle() -> PolicyBundle:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = compile_bundle()
    return _current


def replace_bundle(bundle: PolicyBundle) -> None:
    """Put a compiled bundle in force (tests and reloads); engines rebuild on next use."""
    global _current
    with _lock:
        _current = bundle


# Idle engines by bundle SHA-256, shared by all threads: an interpreter is not thread-safe, so a thread borrows
# one for a call and gives it back. Building one compiles the whole bundle (about 230 ms of CPU); under ASGI
# every request runs in a new thread, so engines kept per thread were rebuilt on every request.
_idle: dict[str, list[_Engine]] = {}
_idle_lock = threading.Lock()


def evaluate(name: str, input_document: dict):
    bundle = current_bundle()
    with _idle_lock:
        pool = _idle.get(bundle.sha256)
        if pool is None:  # a new bundle: engines of older ones are dropped
            _idle.clear()
            pool = _idle[bundle.sha256] = []
        engine = pool.pop() if pool else None
    if engine is None:
        engine = _Engine(bundle.sources)
    try:
        return engine.evaluate(name, input_document)
    finally:
        with _idle_lock:
            if bundle.sha256 in _idle:
                _idle[bundle.sha256].append(engine)
