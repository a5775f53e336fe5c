"""The audit log's piece of the admin: an event's seal state and its "prove" button (the pages are registered by
apps.compliance, the SOC 2 pack, which mixes this in)."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path, reverse

from apps.audit import selectors
from apps.audit.errors import AuditProofError
from apps.audit.proofs import event_proof


class AuditProofAdminMixin:
    """Shows on an audit event's change page where it is in the log, with a "Prove" button that downloads its
    inclusion proof (the JSON of ``manage.py audit_prove``, for scripts/audit_verify_proof.py)."""

    change_form_template = "admin/audit/auditevent/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        seal = selectors.event_seal_state(obj) if obj is not None else {"sealed": False}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "seal": seal})

    def get_urls(self):
        opts = self.model._meta
        prove = self.admin_site.admin_view(self.prove_view)
        return [
            path("<path:object_id>/prove/", prove, name=f"{opts.app_label}_{opts.model_name}_prove"),
            *super().get_urls(),
        ]

    def prove_view(self, request, object_id):
        obj = self.get_object(request, object_id)  # the admin's own queryset: tenant scoping applies
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        try:
            proof = event_proof(obj)
        except AuditProofError as exc:
            self.message_user(request, f"Cannot prove event #{obj.seq}: {exc}", messages.WARNING)
            return HttpResponseRedirect(
                reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
            )
        response = HttpResponse(
            json.dumps(proof, indent=2, sort_keys=True, ensure_ascii=False) + "\n", content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="audit-proof-{obj.seq}.json"'
        return response
