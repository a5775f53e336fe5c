"""The Explorer: the analysts' search, graph canvas and selection panel (one page, data over GraphQL)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST, require_safe

from apps.access import services as access
from apps.access.errors import PurposeError
from apps.core.choices import EntityKind, Sensitivity
from apps.core.selectors import tenants_with_flag
from apps.finops import gateway
from apps.finops import services as finops
from apps.finops import summarize as summarize_service
from apps.finops.errors import BudgetExceeded, FinopsError
from apps.graph.services import ExportRefused, canvas_export_authorize
from intelgraph.graphql.input import strict_json

FEATURE_FLAG = "explorer"
WEBSOCKET_PATH = "/ws/explorer/"


@require_safe
@login_required
@ensure_csrf_cookie
def explorer_page(request):
    """The page exists only for members of a tenant with the ``explorer`` flag: otherwise 404, not 403."""
    # The same selector the live-update socket admits members with, so the page and the socket agree.
    tenants = sorted(tenants_with_flag(user=request.user, flag=FEATURE_FLAG), key=lambda t: (t.name, t.slug))
    if not tenants:
        raise Http404("The Explorer is not turned on for any of your tenants.")
    try:
        purpose = access.subject_for_request(request).purpose
    except PurposeError:
        # A malformed x-ig-purpose header: the page itself does not need one; show the session's.
        purpose = request.session.get(access.SESSION_PURPOSE_KEY)
    user = request.user
    config = {
        "tenants": [{"slug": t.slug, "name": t.name} for t in tenants],
        "user": {"username": user.get_username(), "name": user.get_full_name() or user.get_username()},
        "purpose": purpose or "",
        "purposes": access.purposes_for_user(user=user),
        "kinds": [{"value": value, "label": label} for value, label in EntityKind.choices],
        "sensitivities": [{"value": value, "label": label} for value, label in Sensitivity.choices],
        "urls": {
            "graphql": reverse("graphql"),
            "purpose": reverse("purpose_declare"),
            "export": reverse("explorer:export"),
            "summarize": reverse("explorer:summarize"),
            "websocket": WEBSOCKET_PATH,
        },
        "llm": gateway.configured(),
    }
    return render(request, "explorer/explorer.html", {"explorer_config": config, "explorer_tenants": tenants})


@require_POST
@login_required
def export_authorize(request):
    """Before the browser writes a PNG or JSON of the canvas: the export policy (a declared purpose), audited."""

    try:
        body = strict_json(request.body or b"{}", "body")
        subject = access.subject_for_request(request)
        result = canvas_export_authorize(
            subject=subject,
            entity_ids=body.get("ids"),
            export_format=body.get("format"),
            tenant_check=lambda tenant_id: finops.enforce(tenant_id=tenant_id, feature="export", actor=request.user),
        )
    except (ValueError, AttributeError):
        return JsonResponse(
            {"error": 'Send JSON: {"format": "png"|"json", "ids": [...]}', "code": "BAD_REQUEST"}, status=400
        )
    except PurposeError as exc:
        return JsonResponse({"error": str(exc), "code": exc.reason}, status=400)
    except ExportRefused as exc:
        return JsonResponse({"error": str(exc), "code": exc.reason, "allowed": exc.allowed}, status=403)
    except BudgetExceeded as exc:
        return JsonResponse({"error": str(exc), "code": exc.code, "scope": exc.scope}, status=403)
    return JsonResponse({"ok": True, **result})


@require_POST
@login_required
def summarize(request):
    """ "Summarize the selection": what the user may see of it, written up by the LLM (gateway; purpose; audited)."""
    try:
        body = strict_json(request.body or b"{}", "body")
        ids = body.get("ids")
    except (ValueError, AttributeError):
        return JsonResponse({"error": 'Send JSON: {"ids": [...]}', "code": "BAD_REQUEST"}, status=400)
    try:
        summary = summarize_service.selection_summarize(subject=access.subject_for_request(request), entity_ids=ids)
    except PurposeError as exc:
        return JsonResponse({"error": str(exc), "code": exc.reason, "allowed": exc.allowed}, status=403)
    except BudgetExceeded as exc:
        return JsonResponse({"error": str(exc), "code": exc.code, "scope": exc.scope}, status=429)
    except gateway.GatewayError as exc:
        return JsonResponse({"error": str(exc), "code": exc.code.upper()}, status=exc.status)
    except FinopsError as exc:
        return JsonResponse({"error": str(exc), "code": "BAD_REQUEST"}, status=400)
    return JsonResponse(
        {"summary": summary.text, "model": summary.model, "entities": summary.nodes, "relationships": summary.edges,
         "cost": summary.cost, "estimated": summary.estimated}
    )  # fmt: skip
