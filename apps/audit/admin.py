"""The audit log's piece of the admin: every add, change and delete made in the admin as an audit event
(``AuditedAdminMixin``, which every registered admin carries), and an event's seal state with its "prove" button
(the audit pages are registered by apps.compliance, the SOC 2 pack, which mixes ``AuditProofAdminMixin`` in)."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path, reverse

from apps.audit import selectors, services
from apps.audit.errors import AuditProofError
from apps.audit.proofs import event_proof, proof_recorded


def _changed_fields(message) -> list[str]:
    """The field names in a change message Django built (``[{"changed": {"fields": [...]}}, ...]``)."""
    if isinstance(message, str):
        try:
            message = json.loads(message) if message.startswith("[") else []
        except ValueError:
            message = []
    fields: list[str] = []
    for part in message or []:
        for verb in ("added", "changed"):
            detail = part.get(verb) if isinstance(part, dict) else None
            if isinstance(detail, dict):
                named = detail.get("fields") or ([detail["name"]] if "name" in detail else [])
                fields += [str(f) for f in named]
    return sorted(set(fields))


def _history_id(obj):
    """The id of the object's latest django-simple-history record, for models that keep one."""
    history = getattr(type(obj), "history", None)
    if history is None or not hasattr(history, "model"):
        return None
    return (
        history.model.objects.filter(id=obj.pk)
        .order_by("-history_date", "-history_id")
        .values_list("history_id", flat=True)
        .first()
    )


class AuditedAdminMixin:
    """Every add, change and delete made through this admin becomes an ``admin.created`` / ``admin.changed`` /
    ``admin.deleted`` audit event, in the request's transaction, naming the object (target), its tenant, the
    fields the form changed, Django's LogEntry and the change-history (django-simple-history) record.

    Names are left out on purpose: a record's name may hold a value the audit log's readers may not see. Saves
    that go through a service also leave the service's own event (``entity.updated``, ``membership.changed``);
    this one says it happened in the admin.
    """

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._audit_admin("admin.created", request, obj, entry, message)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self._audit_admin("admin.changed", request, obj, entry, message)
        return entry

    def log_deletions(self, request, queryset):
        objects = list(queryset)
        entries = super().log_deletions(request, objects)
        by_pk = {str(e.object_id): e for e in entries or []}
        for obj in objects:
            self._audit_admin("admin.deleted", request, obj, by_pk.get(str(obj.pk)), "")
        return entries

    def _tenant_id_of(self, obj):
        """The tenant an admin row belongs to: a tenant is its own, other rows name theirs (or none)."""
        if obj._meta.label == "core.Tenant":
            return obj.pk
        return getattr(obj, "tenant_id", None)

    def _audit_admin(self, event_type, request, obj, entry, message) -> None:
        obj = getattr(obj, "_obj", obj)  # a page's ShownAs wrapper: the object itself
        services.record(
            event_type,
            actor=request.user,
            tenant=self._tenant_id_of(obj),
            target=obj,
            payload={
                "model": obj._meta.label_lower,
                "fields": _changed_fields(message),
                "log_entry": getattr(entry, "pk", None),
                "history": _history_id(obj),
                "path": request.path,
            },
        )


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
        proof_recorded(obj, proof, actor=request.user, via="admin")
        response = HttpResponse(
            json.dumps(proof, indent=2, sort_keys=True, ensure_ascii=False) + "\n", content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="audit-proof-{obj.seq}.json"'
        return response
