"""Declaring a purpose of use for the session (the selector in the admin's header)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.access import services as access
from apps.access.errors import PurposeError


@require_POST
@login_required
def purpose_declare(request):
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/admin/"
    try:
        access.session_purpose_set(request=request, purpose=request.POST.get("purpose", ""))
    except PurposeError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(target)
