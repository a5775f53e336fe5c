"""The LLM gateway's HTTP face: ``POST /llm/v1/chat/completions``, OpenAI's protocol, for integrators with an
IntelGraph API token. Thin: apps/finops/gateway.py does the work."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.core.selectors import memberships_for_user
from apps.finops import gateway
from apps.finops.errors import BudgetExceeded


def _error(message: str, *, status: int, code: str, kind: str = "invalid_request_error", **extra) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": kind, "code": code, **extra}}, status=status)


def _tenant_of(request) -> int | JsonResponse:
    """The tenant the call is for: the token holder's only tenant, or the one named by ``X-IG-Tenant``."""
    memberships = list(memberships_for_user(user=request.user))
    named = request.headers.get("X-IG-Tenant", "").strip()
    if named:
        found = [m for m in memberships if m.tenant.slug == named]
        if not found:
            return _error(f"X-IG-Tenant: you are not a member of {named!r}.", status=403, code="tenant_refused",
                          kind="permission_error")  # fmt: skip
        return found[0].tenant_id
    if len(memberships) != 1:
        return _error("You belong to several tenants: name one in the X-IG-Tenant header.", status=400,
                      code="tenant_required")  # fmt: skip
    return memberships[0].tenant_id


async def _as_async(events):
    """Django buffers a synchronous iterator whole before an ASGI server sends it; this one yields each event as
    the provider sends it (read in Django's thread for sync code, where the settle step's database work runs)."""
    step = sync_to_async(next, thread_sensitive=True)
    done = object()
    try:
        while (chunk := await step(events, done)) is not done:
            yield chunk
    finally:
        await sync_to_async(events.close, thread_sensitive=True)()


@csrf_exempt  # API tokens only (below): no cookies, nothing to forge
@require_POST
def chat_completions(request):
    if getattr(request, "api_token", None) is None:
        return _error("Call the LLM gateway with an API token (Authorization: Bearer <token>).", status=401,
                      code="token_required", kind="authentication_error")  # fmt: skip
    tenant = _tenant_of(request)
    if isinstance(tenant, JsonResponse):
        return tenant
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        return _error("The body is not JSON.", status=400, code="bad_body")
    try:
        call = gateway.prepare(tenant_id=tenant, user=request.user, body=body)
        gateway.reserve(call)
        if call.stream:
            events, finish = gateway.stream(call)
            if isinstance(request, ASGIRequest):  # served by uvicorn: hand each event on as it comes
                events = _as_async(events)
            response = StreamingHttpResponse(events, content_type="text/event-stream")
            response._resource_closers.append(finish)  # settled even if the stream is never read
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        answer, settled = gateway.complete(call)
    except BudgetExceeded as exc:
        return _error(str(exc), status=429, code="budget_exceeded", kind="insufficient_quota", scope=exc.scope,
                      cap=str(exc.cap), spent=str(exc.spent))  # fmt: skip
    except gateway.GatewayError as exc:
        return _error(str(exc), status=exc.status, code=exc.code, kind=exc.kind)
    response = JsonResponse(answer)
    response["X-IG-Cost"] = f"{settled['cost']:.6f}"
    response["X-IG-Usage-Estimated"] = "true" if settled["estimated"] else "false"
    return response
