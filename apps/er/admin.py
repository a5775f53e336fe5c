"""Entity resolution in the admin: the decision center (candidate pairs), merges and their rollback, the model
registry with pins and rollout, tenant thresholds with a what-if preview. Thin: every change calls apps.er.services."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from apps.access import services as access
from apps.access.admin_scoping import PolicyNamedAdminMixin, TenantScopedAdminMixin
from apps.access.selectors import readable
from apps.audit import services as audit
from apps.audit.admin import AuditedAdminMixin
from apps.core.models import Entity, Tenant
from apps.er import selectors as er_selectors
from apps.er import services as er
from apps.er.choices import PairStatus
from apps.er.models import CandidatePair, Merge, ModelArtifact, ModelPin, NeverMerge, TenantERSettings


def _short(sha: str) -> str:
    return sha[:12] if sha else "rules"


def _entity_link(entity_id, label=None):
    url = reverse("admin:core_entity_change", args=[entity_id])
    return format_html('<a href="{}">{}</a>', url, label or str(entity_id)[:8])


# --------------------------------------------------------------------------- decision center


class DecisionForm(forms.Form):
    """A reviewer's decision. It comes only from the button pressed (each submit button carries its own
    ``decision``; there is no default): a form sent any other way, such as Enter in the reason field, decides
    nothing."""

    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject"), ("defer", "Defer")],
        error_messages={
            "required": "No decision was made: press Approve, Reject or Defer (or its key outside the reason field).",
            "invalid_choice": "No decision was made: %(value)s is not approve, reject or defer.",
        },
    )
    reason = forms.CharField(max_length=500, required=False, widget=forms.TextInput(attrs={"size": 60}))


@admin.register(CandidatePair)
class CandidatePairAdmin(PolicyNamedAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """The decision center: pairs in the review band, riskiest (highest score) or newest first."""

    list_display = ("pair_label", "score_bar", "status", "scored_by", "claim", "created_at")
    list_filter = ("status", "by_rules", "tenant")
    search_fields = ("entity_a__display_name", "entity_b__display_name", "model_sha")
    ordering = ("-score", "-created_at")
    list_select_related = ("entity_a", "entity_b", "claimed_by")
    named_entities = ("entity_a", "entity_b")
    actions = ("approve_selected", "defer_selected")
    change_form_template = "admin/er/candidatepair/decide.html"
    change_list_template = "admin/er/candidatepair/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "Decision center: pairs to review", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_search_results(self, request, queryset, search_term):
        """Names are searched only among pairs whose two records the user may find by search: otherwise the
        count of results would confirm a guess at a name the user may not see."""
        if search_term and not request.user.is_superuser:
            findable = readable(subject=self._subject(request), action="search").queryset.values("pk")
            queryset = queryset.filter(entity_a__in=findable, entity_b__in=findable)
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="claimed by")
    def claim(self, obj):
        return format_html('<span class="er-claim" data-pair="{}">{}</span>', obj.pk, obj.claimed_by or "—")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if "status__exact" not in request.GET and request.resolver_match.url_name.endswith("changelist"):
            queryset = queryset.filter(status__in=[PairStatus.PENDING, PairStatus.DEFERRED])
        return queryset

    @admin.display(description="pair")
    def pair_label(self, obj):
        return f"{self.entity_name(obj, 'entity_a')}  ~  {self.entity_name(obj, 'entity_b')}"

    @admin.display(description="score", ordering="score")
    def score_bar(self, obj):
        width = int(obj.score * 100)
        return format_html(
            '<span class="er-score"><span style="display:inline-block;width:{}px;height:8px;background:#2563eb;'
            'border-radius:2px"></span> {}</span>',
            width,
            f"{obj.score:.3f}",
        )

    @admin.display(description="scored by")
    def scored_by(self, obj):
        return "rules" if obj.by_rules else _short(obj.model_sha)

    def _subject(self, request):
        return access.subject_for_request(request)

    def get_urls(self):
        claim = self.admin_site.admin_view(self.claim_view)
        return [path("<path:object_id>/claim/", claim, name="er_candidatepair_claim"), *super().get_urls()]

    def _pair(self, request, object_id):
        # The scoped queryset (the user's tenants): another tenant's pair is a 404, as elsewhere in the admin.
        return get_object_or_404(
            self.get_queryset(request).select_related("entity_a", "entity_b", "tenant"), pk=object_id
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The decide page. A GET changes nothing: the page claims the pair with a POST to ``claim_view`` when
        it opens (its script), and a decision is a POST of the form."""
        pair = self._pair(request, object_id)
        subject = self._subject(request)
        form = DecisionForm(request.POST if request.method == "POST" else None)
        view = er_selectors.pair_side_by_side(subject=subject, pair=pair)
        if request.method == "POST":
            if not self.has_change_permission(request, pair):
                raise PermissionDenied
            if form.is_valid():
                decision, reason = form.cleaned_data["decision"], form.cleaned_data["reason"]
                try:
                    if decision == "approve":
                        merge = er.pair_approve(subject=subject, pair=pair, reason=reason)
                        self.message_user(request, f"Merged into {merge.canonical_id}.", messages.SUCCESS)
                    elif decision == "reject":
                        er.pair_reject(subject=subject, pair=pair, reason=reason)
                        self.message_user(request, "Rejected: these two will never be merged.", messages.SUCCESS)
                    else:
                        er.pair_defer(subject=subject, pair=pair, reason=reason)
                        self.message_user(request, "Deferred.", messages.INFO)
                except ValidationError as exc:
                    form.add_error(None, "; ".join(exc.messages))
                else:
                    return HttpResponseRedirect(self._next_url(request, pair))
        elif not view.both_visible:
            self.message_user(
                request, "You may not read both records of this pair, so you cannot decide it.", messages.WARNING
            )
        decided = pair.status not in (PairStatus.PENDING, PairStatus.DEFERRED)
        may_change = self.has_change_permission(request, pair)
        name_a, name_b = view.names[pair.entity_a_id], view.names[pair.entity_b_id]
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.model._meta,
            "original": pair,
            "title": f"Decide: {name_a} ~ {name_b}",
            "pair": pair,
            "name_a": name_a,
            "name_b": name_b,
            "form": form,
            "rows": view.rows,
            "waterfall": view.waterfall,
            "provenance": view.provenance,
            "settings": er_selectors.settings_for(tenant=pair.tenant),
            "decided": decided,
            "purpose": subject.purpose,
            "has_change_permission": may_change,
            # Not offered for a pair this reviewer cannot decide: a claim would keep others from it.
            "claim_url": reverse("admin:er_candidatepair_claim", args=[pair.pk])
            if view.both_visible and may_change and not decided
            else "",
        }
        return TemplateResponse(request, self.change_form_template, context)

    def claim_view(self, request, object_id):
        """POST only: claim the pair for this reviewer (the decide page does it when it opens). Answers JSON:
        ``{"claimed_by": name}``, or ``{"error": message}`` with 403 (may not decide it) or 409 (another
        reviewer holds it)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        pair = self._pair(request, object_id)
        if not self.has_change_permission(request, pair):
            raise PermissionDenied
        subject = self._subject(request)
        if not er_selectors.pair_readable(subject=subject, pair=pair):
            message = "You may not read both records of this pair, so you cannot claim it."
            return JsonResponse({"error": message}, status=403)
        try:
            pair = er.pair_claim(subject=subject, pair=pair)
        except ValidationError as exc:
            status = 409 if getattr(exc, "code", "") == "claimed" else 403
            return JsonResponse({"error": "; ".join(exc.messages)}, status=status)
        return JsonResponse({"claimed_by": pair.claimed_by.get_username()})

    def _next_url(self, request, pair):
        following = (
            self.get_queryset(request).filter(status=PairStatus.PENDING).exclude(pk=pair.pk).order_by("-score").first()
        )
        if following is not None:
            return reverse("admin:er_candidatepair_change", args=[following.pk])
        return reverse("admin:er_candidatepair_changelist")

    @admin.action(description="Approve selected pairs (merge, under your declared purpose)", permissions=["change"])
    def approve_selected(self, request, queryset):
        subject, done = self._subject(request), 0
        for pair in queryset.select_related("entity_a", "entity_b", "tenant"):
            try:
                er.pair_approve(subject=subject, pair=pair, reason="bulk approval")
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"pair {pair.pk}: {'; '.join(exc.messages)}", messages.ERROR)
        if done:
            self.message_user(request, f"Approved and merged {done} pair(s).", messages.SUCCESS)

    @admin.action(description="Defer selected pairs", permissions=["change"])
    def defer_selected(self, request, queryset):
        subject = self._subject(request)
        for pair in queryset:
            try:
                er.pair_defer(subject=subject, pair=pair, reason="bulk defer")
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
                return


# --------------------------------------------------------------------------- merges and rollback


class RollbackForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"size": 60}))


@admin.register(Merge)
class MergeAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "canonical_link", "member_count", "how", "model_short", "created_at", "rolled_back_at")
    list_filter = ("automatic", "by_rules", ("rolled_back_at", admin.EmptyFieldListFilter), "tenant")
    # The snapshot holds whole records (names, attributes): it is shown only as the policy redacts it, and the
    # canonical entity and the pair (whose names would show) by id.
    readonly_fields = [
        "canonical_id" if f.name == "canonical" else "snapshot_as_you_may_see_it" if f.name == "snapshot" else f.name
        for f in Merge._meta.fields
        if f.name != "pair"
    ] + ["pair_id"]
    exclude = ("snapshot", "canonical", "pair")
    change_form_template = "admin/er/merge/change_form.html"
    actions = ("rollback_models",)

    def get_fields(self, request, obj=None):
        return self.readonly_fields

    def get_object(self, request, object_id, from_field=None):
        merge = super().get_object(request, object_id, from_field)
        if merge is not None:
            # Redacted for the user looking at it, once per request.
            merge.ig_snapshot = (
                merge.snapshot
                if request.user.is_superuser
                else er_selectors.states_redacted(
                    subject=access.subject_for_request(request), tenant_id=merge.tenant_id, **merge.snapshot
                )
            )
        return merge

    @admin.display(description="snapshot (as you may see it)")
    def snapshot_as_you_may_see_it(self, merge):
        shown = getattr(merge, "ig_snapshot", None)
        if shown is None:
            return "—"
        return format_html(
            "<pre style='white-space:pre-wrap' id='er-snapshot'>{}</pre>",
            json.dumps(shown, indent=2, sort_keys=True, ensure_ascii=False, default=str),
        )

    @admin.action(
        description="Roll back everything the selected merges' model versions merged in their tenants",
        permissions=["change"],
    )
    def rollback_models(self, request, queryset):
        subject = access.subject_for_request(request)
        for tenant_id, sha in sorted({(m.tenant_id, m.model_sha) for m in queryset if not m.rolled_back_at}):
            tenant = Tenant.objects.get(pk=tenant_id)
            try:
                plans = er.rollback_model(
                    tenant=tenant,
                    model_sha=sha,
                    subject=subject,
                    reason=f"model {sha[:12] or 'rules'} rolled back from the admin",
                )
                self.message_user(
                    request,
                    f"{tenant.slug}: undid {sum(len(p.merges) for p in plans)} merge(s) by {sha[:12] or 'rules'}.",
                    messages.SUCCESS,
                )
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="canonical entity")
    def canonical_link(self, obj):
        if Entity.objects.filter(pk=obj.canonical_id).exists():
            return _entity_link(obj.canonical_id)
        return f"{str(obj.canonical_id)[:8]} (removed by rollback)"

    @admin.display(description="members")
    def member_count(self, obj):
        return len(obj.members)

    @admin.display(description="how")
    def how(self, obj):
        return "rules" if obj.by_rules else "automatic" if obj.automatic else "reviewer"

    @admin.display(description="model")
    def model_short(self, obj):
        return _short(obj.model_sha)

    def get_urls(self):
        return [
            path("<int:pk>/rollback/", self.admin_site.admin_view(self.rollback_view), name="er_merge_rollback"),
            *super().get_urls(),
        ]

    def rollback_view(self, request, pk):
        merge = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, merge):
            raise PermissionDenied
        form = RollbackForm(request.POST or None)
        try:
            plan = er_selectors.rollback_plan(merge=merge)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:er_merge_change", args=[merge.pk]))
        if request.method == "POST" and form.is_valid():
            try:
                er.merge_rollback(
                    merge=merge, subject=access.subject_for_request(request), reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                form.add_error(None, "; ".join(exc.messages))
            else:
                self.message_user(request, f"Rolled back: {plan.summary}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:er_merge_change", args=[merge.pk]))
        subject = None if request.user.is_superuser else access.subject_for_request(request)
        rows = er_selectors.rollback_changes(plan, subject=subject)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": merge,
            "title": "Roll back a merge",
            "plan": plan,
            "rows": rows,
            "form": form,
            "purpose": access.subject_for_request(request).purpose,
        }
        return TemplateResponse(request, "admin/er/merge/rollback.html", context)


@admin.register(NeverMerge)
class NeverMergeAdmin(PolicyNamedAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Reviewers' rejections. Entities are named as the policy allows (the list decides its page at once)."""

    list_display = ("entity_a_name", "entity_b_name", "reason", "actor", "created_at")
    list_select_related = ("entity_a", "entity_b", "actor")
    named_entities = ("entity_a", "entity_b")
    readonly_fields = ("tenant", "entity_a_name", "entity_b_name", "reason", "actor", "created_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    @admin.display(description="entity a")
    def entity_a_name(self, obj):
        return _entity_link(obj.entity_a_id, self.entity_name(obj, "entity_a"))

    @admin.display(description="entity b")
    def entity_b_name(self, obj):
        return _entity_link(obj.entity_b_id, self.entity_name(obj, "entity_b"))


# --------------------------------------------------------------------------- registry, pins, thresholds


@admin.register(ModelArtifact)
class ModelArtifactAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("model_id", "sha_short", "size", "f1", "rollout", "author", "created_at")
    readonly_fields = (
        "model_id",
        "sha256",
        "uri",
        "size",
        "author",
        "created_at",
        "rollout",
        "shadow",
        "metadata_pretty",
    )
    exclude = ("metadata",)
    actions = ("compare_selected",)
    change_form_template = "admin/er/modelartifact/change_form.html"

    # Artifacts are global, but where they are pinned and how they did in shadow is per tenant: a member sees
    # that only for their own tenants (rows carry ``ig_tenants``: the user's tenant ids, None for superusers).
    def get_changelist(self, request, **kwargs):
        tenants = _own_tenants(request)

        class OwnTenantsChangeList(ChangeList):
            def get_results(self, request):
                super().get_results(request)
                for row in self.result_list:
                    row.ig_tenants = tenants

        return OwnTenantsChangeList

    def get_object(self, request, object_id, from_field=None):
        artifact = super().get_object(request, object_id, from_field)
        if artifact is not None:
            artifact.ig_tenants = _own_tenants(request)
        return artifact

    def has_add_permission(self, request):
        return False  # registered by `manage.py er_train` / the registry service, never typed in

    def has_delete_permission(self, request, obj=None):
        return False  # immutable

    @admin.display(description="sha256")
    def sha_short(self, obj):
        return obj.sha256[:16]

    @admin.display(description="F1")
    def f1(self, obj):
        flat = _metrics(obj.metadata)
        values = [v for k, v in flat.items() if k.split(".")[-1] == "f1" and isinstance(v, (int, float))]
        return f"{min(values):.4f}" if values else "—"

    @admin.display(description="in force")
    def rollout(self, obj):
        where = er_selectors.rollout_of(obj)
        tenants = getattr(obj, "ig_tenants", ())
        if tenants is not None:
            slugs = set(Tenant.objects.filter(pk__in=tenants).values_list("slug", flat=True))
            where = {
                **where,
                "canary": [t for t in where["canary"] if t in slugs],
                "shadow": [t for t in where["shadow"] if t in slugs],
            }
        parts = (["GA"] if where["ga"] else []) + [f"canary: {', '.join(where['canary'])}"] * bool(where["canary"])
        parts += [f"shadow: {', '.join(where['shadow'])}"] * bool(where["shadow"])
        return "; ".join(parts) or "not pinned"

    @admin.display(description="shadow record")
    def shadow(self, obj):
        return _shadow_text(er_selectors.shadow_record(artifact=obj, tenant_ids=getattr(obj, "ig_tenants", ())))

    @admin.display(description="metadata")
    def metadata_pretty(self, obj):
        return format_html(
            "<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(obj.metadata, indent=2, sort_keys=True)
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/download/", self.admin_site.admin_view(self.download_view), name="er_modelartifact_download"
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, pk):
        artifact = get_object_or_404(ModelArtifact, pk=pk)
        if not self.has_view_permission(request, artifact):
            raise PermissionDenied
        # The bytes are learnt from tenants' labelled records: only those who may pin models take them away.
        if not request.user.is_superuser and not _pinnable_tenants(request):
            audit.record(
                "access.denied",
                actor=request.user,
                target=artifact,
                payload={
                    "action": "download",
                    "record_type": "modelartifact",
                    "bundle": access.policy.current_bundle().sha256,
                },
            )
            raise PermissionDenied("Only administrators who may pin models download their bytes.")
        try:
            data = er_selectors.model_bytes(artifact)
        except er_selectors.ModelIntegrityError as exc:
            raise Http404(str(exc)) from None
        from io import BytesIO

        return FileResponse(
            BytesIO(data), as_attachment=True, filename=f"{artifact.model_id}-{artifact.sha256[:12]}.json"
        )

    @admin.action(description="Compare selected models")
    def compare_selected(self, request, queryset):
        artifacts = list(queryset[:4])
        keys = sorted({k for a in artifacts for k in (a.metadata.get("metrics") or {})})
        rows = [
            {"metric": k, "values": [(a.metadata.get("metrics") or {}).get(k, "—") for a in artifacts]} for k in keys
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Compare models",
            "artifacts": artifacts,
            "rows": rows,
        }
        return TemplateResponse(request, "admin/er/modelartifact/compare.html", context)


def _metrics(metadata: dict) -> dict:
    """Evaluation and training metrics of an artifact, flattened to 'kind.metric' keys."""
    flat = {}
    for prefix, source in (("", metadata.get("metrics") or {}), ("training ", metadata.get("training_metrics") or {})):
        for key, value in source.items():
            if isinstance(value, dict):
                flat.update({f"{prefix}{key}.{k}": v for k, v in value.items()})
            else:
                flat[f"{prefix}{key}"] = value
    return flat


def _own_tenants(request) -> list[int] | None:
    """The user's tenant ids (None for a superuser: every tenant)."""
    return None if request.user.is_superuser else list(access.subject_for_request(request).tenant_ids)


def _pinnable_tenants(request) -> list[int]:
    """Tenants where this member may pin and revert models (the admin-change policy for pins)."""
    return access.tenants_allowing(
        subject=access.subject_for_request(request), record_type=er_selectors.PIN_RECORD_TYPE
    )


def _shadow_text(record: dict) -> str:
    if not record["scored"]:
        return "never scored in shadow"
    if not record["decided"]:
        return f"{record['scored']} pairs scored in shadow; no reviewer has decided any of them yet"
    precision = "—" if record["precision"] is None else f"{record['precision']:.1%}"
    return (
        f"{record['scored']} pairs scored in shadow, {record['decided']} decided by reviewers: agreement "
        f"{record['agreement']:.1%}; it would have merged {record['would_auto_merge']} of them automatically, "
        f"precision {precision}"
    )


class PinForm(forms.ModelForm):
    """A pin. For a member (not a superuser) the tenant is required and is one they may pin for; anything else
    sent is refused as a form error and audited (``pin_user`` is set by the admin)."""

    pin_user = None

    class Meta:
        model = ModelPin
        fields = ("tenant", "artifact", "mode", "note")

    def clean(self):
        data = super().clean()
        user = self.pin_user
        if user is None or user.is_superuser:
            return data
        requested = str(self.data.get("tenant") or "")
        tenant = data.get("tenant")
        if self.has_error("tenant") or not er_selectors.pin_allowed(actor=user, tenant=tenant):
            er.pin_refused(
                actor=user,
                tenant_id=int(requested) if requested.isdigit() else None,
                requested=requested or "all tenants",
            )
            if not self.has_error("tenant"):
                self.add_error("tenant", "You may not pin models for this tenant.")
        return data


@admin.register(ModelPin)
class ModelPinAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Rollout: pin a model in shadow for a tenant, then active for canary tenants, then for all (no tenant: GA).

    Members see and pin only for tenants where the admin-change policy lets them (apps.er.selectors.PIN_RECORD_TYPE); pins for
    all tenants are for superusers."""

    form = PinForm
    list_display = ("__str__", "stage", "mode", "note", "actor", "created_at")
    list_filter = ("mode", "stage", ("tenant", admin.RelatedOnlyFieldListFilter))
    actions = ("revert_selected",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(tenant__in=_pinnable_tenants(request))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"pin_user": request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and not request.user.is_superuser:
            kwargs["queryset"] = Tenant.objects.filter(pk__in=_pinnable_tenants(request))
            kwargs["required"] = True
            kwargs["help_text"] = "A tenant you administer (pins for all tenants are made by superusers)."
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        artifact_id = request.GET.get("artifact")
        artifact = ModelArtifact.objects.filter(pk=artifact_id).first() if str(artifact_id or "").isdigit() else None
        if artifact is not None and request.method == "GET":
            record = er_selectors.shadow_record(artifact=artifact, tenant_ids=_own_tenants(request))
            self.message_user(request, f"{artifact}: {_shadow_text(record)}.", messages.INFO)
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        pin = er.pin_set(tenant=obj.tenant, artifact=obj.artifact, mode=obj.mode, actor=request.user, note=obj.note)
        obj.pk = pin.pk

    @admin.action(description="Revert: go back to the model pinned before", permissions=["add"])
    def revert_selected(self, request, queryset):
        for target in {(p.tenant, p.mode) for p in queryset.select_related("tenant")}:
            try:
                pin = er.pin_revert(tenant=target[0], mode=target[1], actor=request.user)
                self.message_user(request, f"Reverted: {pin}.", messages.SUCCESS)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)


class ThresholdForm(forms.ModelForm):
    class Meta:
        model = TenantERSettings
        fields = ("tenant", "auto_merge_threshold", "review_threshold", "auto_merge_enabled")

    def clean(self):
        data = super().clean()
        auto, review = data.get("auto_merge_threshold"), data.get("review_threshold")
        if auto is not None and review is not None and not (0 <= review < auto <= 1):
            raise ValidationError("Use 0 ≤ review threshold < auto-merge threshold ≤ 1.")
        return data


@admin.register(TenantERSettings)
class TenantERSettingsAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    """A tenant's thresholds. *What if…* previews proposed thresholds or a model with GET forms of their own,
    outside the settings form: a preview never saves (the template keeps them out of the POST form)."""

    form = ThresholdForm
    list_display = ("tenant", "review_threshold", "auto_merge_threshold", "auto_merge_enabled", "updated_at")
    change_form_template = "admin/er/tenantersettings/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        # A tenant's settings stay that tenant's: moving the row would rewrite another tenant's thresholds.
        return ("tenant",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        er.thresholds_set(
            tenant=obj.tenant,
            auto_merge=obj.auto_merge_threshold,
            review=obj.review_threshold,
            auto_merge_enabled=obj.auto_merge_enabled,
            actor=request.user,
        )
        obj.pk = er_selectors.settings_for(tenant=obj.tenant).pk

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if object_id and self.get_object(request, object_id) is None:
            return super().changeform_view(request, object_id, form_url, extra_context)  # the admin's not-found
        if object_id and request.GET.get("auto") and request.GET.get("review"):
            obj = self.get_object(request, object_id)
            try:
                auto, review = float(request.GET["auto"]), float(request.GET["review"])
                extra_context["what_if"] = er_selectors.what_if(tenant=obj.tenant, auto_merge=auto, review=review)
                extra_context["what_if_values"] = {"auto": auto, "review": review}
            except (ValueError, TypeError):
                self.message_user(request, "What-if needs two numbers between 0 and 1.", messages.ERROR)
        if object_id:
            extra_context["artifacts"] = ModelArtifact.objects.order_by("-created_at")[:50]
        if object_id and str(request.GET.get("model", "")).isdigit():
            obj = self.get_object(request, object_id)
            artifact = ModelArtifact.objects.filter(pk=request.GET["model"]).first()
            if obj is not None and artifact is not None:
                try:
                    extra_context["what_if_model"] = er_selectors.what_if_model(tenant=obj.tenant, artifact=artifact)
                    extra_context["what_if_artifact"] = artifact
                except er_selectors.ModelIntegrityError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
        return super().changeform_view(request, object_id, form_url, extra_context)
