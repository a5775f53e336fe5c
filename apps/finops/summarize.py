""" "Summarize the selection" in the Explorer: a short written summary of the selected nodes and the relationships
among them, written by the LLM through the gateway (metered, capped).

Only what the access policy lets this user see is sent: the selection is read through the same path the canvas
uses (``graph.selectors.selection_graph``: hidden nodes and edges left out, masked ones dropped, names built
from withheld attributes withheld), and only kinds, visible names and relationship kinds go into the prompt,
never attributes. Sending data to an outside model is an export: it needs a declared purpose the tenant accepts
(the policy's ``export`` action), and it is audited (without the text).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from apps.access import services as access
from apps.audit import services as audit
from apps.core.models import Tenant
from apps.finops import gateway
from apps.finops.errors import FinopsError
from apps.graph import selectors as graph

MAX_NODES = 200
SYSTEM = (
    "You are an analyst's assistant in an intelligence-graph product. Summarize the selected entities and their "
    "relationships in at most six sentences: who or what they are, how they connect, and what stands out. Use "
    "only the facts given; say when something is not given. Names shown as [withheld] are redacted: never guess."
)


@dataclass
class Summary:
    text: str
    model: str
    nodes: int
    edges: int
    cost: str
    estimated: bool
    prompt: str  # what was sent (for the page to show, and for tests)


def prompt_for(nodes, edges) -> str:
    names = {n.id: f"{n.label or '[withheld]'} ({n.kind})" for n in nodes}
    lines = ["Entities:"] + [f"- {names[n.id]}" for n in nodes]
    if edges:
        lines.append("Relationships:")
        lines += [
            f"- {names[e.source]} -[{e.kind}]-> {names[e.target]}"
            for e in edges
            if e.source in names and e.target in names
        ]
    else:
        lines.append("Relationships: none among the selected entities.")
    return "\n".join(lines)


def selection_summarize(*, subject: access.Subject, entity_ids) -> Summary:
    """Raises GatewayError (not configured, provider failures), BudgetExceeded, PurposeError, FinopsError."""
    if not gateway.configured():
        raise gateway.GatewayError(
            "Summaries need an LLM provider, and none is configured for this installation (LLM_BASE_URL).",
            status=503, code="llm_not_configured", kind="service_unavailable",
        )  # fmt: skip
    if not isinstance(entity_ids, list) or not 1 <= len(entity_ids) <= MAX_NODES:
        raise FinopsError(f"Select 1 to {MAX_NODES} nodes to summarize.")
    try:
        nodes, edges = graph.selection_graph(subject=subject, ids=entity_ids)
    except graph.GraphInputError as exc:
        raise FinopsError(str(exc)) from None
    if not nodes:
        raise FinopsError("Nothing in the selection is visible to you: nothing to summarize.")
    tenants = {node.tenant for node in nodes}
    if len(tenants) > 1:
        raise FinopsError("The selection spans several tenants: summarize one tenant's nodes at a time.")
    tenant_id = Tenant.objects.filter(slug=next(iter(tenants)), pk__in=subject.tenant_ids).values_list("pk", flat=True)[
        0
    ]
    access.purpose_require(subject=subject, tenant_id=tenant_id, action="export")
    prompt = prompt_for(nodes, edges)
    model = settings.LLM_SUMMARY_MODEL or (settings.LLM_MODELS[0] if settings.LLM_MODELS else "")
    call = gateway.prepare(
        tenant_id=tenant_id, user=subject.user,
        body={"model": model, "max_tokens": 400,
              "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]},
    )  # fmt: skip
    call.feature_label = "explorer-summary"
    gateway.reserve(call)
    answer, settled = gateway.complete(call)
    text = "".join(str((c.get("message") or {}).get("content") or "") for c in answer.get("choices") or []).strip()
    audit.record(
        "explorer.summarized", actor=subject.user, tenant=tenant_id,
        payload={"entities": len(nodes), "relationships": len(edges), "model": model, "purpose": subject.purpose,
                 "sample": [n.id for n in nodes[:20]], "cost": str(settled["cost"])},
    )  # fmt: skip
    return Summary(text, model, len(nodes), len(edges), f"{settled['cost']:.6f}", settled["estimated"], prompt)
