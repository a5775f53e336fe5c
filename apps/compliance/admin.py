from datetime import UTC, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from apps.access import services as access
from apps.access.admin_scoping import ReadOnlyAdminMixin, TenantScopedAdminMixin
from apps.audit import catalogue
from apps.audit.admin import AuditedAdminMixin, AuditProofAdminMixin
from apps.audit.errors import AuditRetentionError
from apps.audit.models import (
    AuditEvent,
    AuditPosition,
    AuditRetentionOverride,
    AuditSigningKey,
    AuditTombstone,
    LegalHold,
)
from apps.audit.services import trusted_keys
from apps.compliance import health
from apps.compliance import selectors as compliance_selectors
from apps.compliance import services as compliance
from apps.compliance.bundle import period_problem
from apps.compliance.choices import AccessDecision, AccessReviewStatus
from apps.compliance.errors import AccessReviewError, ComplianceError
from apps.compliance.models import (
    AccessReview,
    AccessReviewItem,
    Control,
    ControlApplicability,
    ControlAttestation,
    EvidenceBundle,
)
from apps.core.choices import Role, Sensitivity
from apps.core.models import Tenant


class _InputFilter(admin.SimpleListFilter):
    """A list filter that is a text box (actor, target, purpose): listing every value would read the whole log."""

    template = "admin/audit/input_filter.html"

    def lookups(self, request, model_admin):
        return ((),)  # Django shows a filter only when it has lookups; the template draws the box

    def choices(self, changelist):
        # the other parameters of the page, as the form's hidden fields (a new value starts again at page 1)
        hidden = []
        for key, values in changelist.params.items():
            if key in (self.parameter_name, "p"):
                continue
            hidden += [(key, v) for v in (values if isinstance(values, list) else [values])]
        yield {"hidden": hidden, "value": self.value() or "", "parameter": self.parameter_name}


class ActorFilter(_InputFilter):
    title = "actor"
    parameter_name = "actor"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(actor_label__iexact=value) if value else queryset


class TargetFilter(_InputFilter):
    title = "target (type or type:id)"
    parameter_name = "target"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        kind, _, target_id = value.partition(":")
        queryset = queryset.filter(target_type=kind.strip().lower())
        return queryset.filter(target_id=target_id.strip()) if target_id else queryset


class PurposeFilter(_InputFilter):
    title = "purpose"
    parameter_name = "purpose"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(payload__purpose=value) if value else queryset


class SealedFilter(admin.SimpleListFilter):
    title = "seal state"
    parameter_name = "sealed"

    def lookups(self, request, model_admin):
        return (("yes", "sealed"), ("no", "not sealed yet"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(_sealed=True)
        if self.value() == "no":
            return queryset.filter(_sealed=False)
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(AuditProofAdminMixin, ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Read-only: audit events are appended by the audit service and never edited. Compliance staff filter by
    tenant, actor, type, target, time and purpose, see each event's seal state and prove it; the page opens with
    the last verification, the sealing lag and the holds, and links the coverage report."""

    list_display = (
        "seq",
        "created_at",
        "event_type",
        "actor_label",
        "tenant",
        "target_type",
        "target_id",
        "purpose",
        "sealed",
    )
    list_filter = (
        "event_type",
        "tenant",
        "created_at",
        ActorFilter,
        TargetFilter,
        PurposeFilter,
        SealedFilter,
    )
    search_fields = ("event_type", "actor_label", "target_id", "hash")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    show_full_result_count = False
    tenant_null_visible_to_superusers_only = True
    change_list_template = "admin/audit/auditevent/change_list.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_sealed=Exists(AuditPosition.objects.filter(event_seq=OuterRef("seq"))))
        )

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="purpose")
    def purpose(self, obj) -> str:
        value = obj.payload.get("purpose") if isinstance(obj.payload, dict) else None
        return value or "—"

    @admin.display(boolean=True, description="sealed")
    def sealed(self, obj) -> bool:
        return bool(getattr(obj, "_sealed", False))

    def get_urls(self):
        coverage = self.admin_site.admin_view(self.coverage_view)
        return [path("coverage/", coverage, name="audit_auditevent_coverage"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        context = {**(extra_context or {}), "audit_health": compliance_selectors.audit_health(user=request.user)}
        return super().changelist_view(request, context)

    def coverage_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CoveragePeriodForm(request.GET or None)
        until = timezone.now()
        since = until - timedelta(days=30)
        if form.is_bound and form.is_valid():
            since = datetime.combine(form.cleaned_data["since"], time.min, tzinfo=UTC)
            until = datetime.combine(form.cleaned_data["until"], time.min, tzinfo=UTC) + timedelta(days=1)
        report = compliance_selectors.coverage_for(user=request.user, since=since, until=until)
        largest = max((row.total for row in report.rows), default=0) or 1
        for row in report.rows:  # what the table draws: a count per tenant column, a bar against the largest
            row.cells = [row.per_tenant.get(tenant, 0) for tenant in report.tenants]
            row.share = round(100 * row.total / largest)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Audit coverage",
            "form": form,
            "report": report,
            "since": since,
            "until": until - timedelta(seconds=1),
        }
        return TemplateResponse(request, "admin/audit/auditevent/coverage.html", context)


class CoveragePeriodForm(forms.Form):
    since = forms.DateField(help_text="first day")
    until = forms.DateField(help_text="last day, included")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data


class _ComplianceFormAdminMixin:
    """Admins whose form calls an ``apps.compliance.services`` check: the form knows who submits it
    (``form.actor``). The tenant dropdown is TenantScopedAdminMixin's: for members, the tenants where the policy's
    admin-change table lets them change this model (``legalhold``, ``auditretentionoverride``)."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})


class LegalHoldForm(forms.ModelForm):
    class Meta:
        model = LegalHold
        fields = ("tenant", "target_type", "target_id", "events_from", "events_until", "until", "reason")

    actor = None  # the user placing it (set by the admin's get_form)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            compliance.hold_check(actor=self.actor, **self._hold_arguments(data))
        except AuditRetentionError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    @staticmethod
    def _hold_arguments(data) -> dict:
        return {
            "tenant": data.get("tenant"),
            "target_type": data.get("target_type") or "",
            "target_id": data.get("target_id") or "",
            "events_from": data.get("events_from"),
            "events_until": data.get("events_until"),
            "until": data.get("until"),
            "reason": data.get("reason") or "",
        }


class LiftForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Why the hold ends.")


@admin.register(LegalHold)
class LegalHoldAdmin(_ComplianceFormAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Legal holds: compliance staff place them (tenant, target, time range, reason, end date or none) and lift
    them with a reason; a hold is never edited or deleted. Held events survive every retention purge."""

    form = LegalHoldForm
    list_display = ("__str__", "tenant", "scope", "reason_short", "placed_by", "placed_at", "until", "state")
    list_filter = ("tenant", ("lifted_at", admin.EmptyFieldListFilter))
    list_select_related = ("tenant", "placed_by", "lifted_by")
    tenant_null_visible_to_superusers_only = True
    change_form_template = "admin/audit/legalhold/change_form.html"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant":  # no tenant: every tenant's events, which only a superuser may hold
            kwargs.update(
                {"empty_label": "every tenant"}
                if request.user.is_superuser
                else {"required": True, "empty_label": None}
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in self.model._meta.fields]

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        saved = compliance.hold_place(actor=request.user, **LegalHoldForm._hold_arguments(form.cleaned_data))
        obj.pk = saved.pk
        obj._state.adding = False
        obj.placed_at = saved.placed_at

    @admin.display(description="scope")
    def scope(self, obj) -> str:
        parts = [f"{obj.target_type}:{obj.target_id}" if obj.target_id else obj.target_type or "every target"]
        if obj.events_from or obj.events_until:
            low = f"{obj.events_from:%Y-%m-%d}" if obj.events_from else "…"
            high = f"{obj.events_until:%Y-%m-%d}" if obj.events_until else "…"
            parts.append(f"events {low} to {high}")
        return ", ".join(parts)

    @admin.display(description="reason")
    def reason_short(self, obj) -> str:
        return obj.reason if len(obj.reason) <= 60 else obj.reason[:59] + "…"

    @admin.display(description="state")
    def state(self, obj) -> str:
        if obj.lifted_at:
            return f"lifted {obj.lifted_at:%Y-%m-%d}"
        return "active" if obj.active(timezone.now()) else "ended"

    def get_urls(self):
        lift = self.admin_site.admin_view(self.lift_view)
        return [path("<path:object_id>/lift/", lift, name="audit_legalhold_lift"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        context = {
            **(extra_context or {}),
            "lift_form": LiftForm(),
            "hold_active": bool(obj and obj.active(timezone.now())),
        }
        return super().change_view(request, object_id, form_url, context)

    def lift_view(self, request, object_id):
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        change_url = reverse("admin:audit_legalhold_change", args=[obj.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        form = LiftForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Lifting a hold needs a reason.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        try:
            compliance.hold_lift(hold=obj, actor=request.user, reason=form.cleaned_data["reason"])
        except AuditRetentionError as exc:
            self.message_user(request, f"Not lifted: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"{obj} lifted.", messages.SUCCESS)
        return HttpResponseRedirect(change_url)


class RetentionOverrideForm(forms.ModelForm):
    event_type = forms.ChoiceField(choices=[(name, name) for name in catalogue.EVENT_TYPES])
    retention = forms.ChoiceField(choices=catalogue.RETENTION_CHOICES)

    class Meta:
        model = AuditRetentionOverride
        fields = ("tenant", "event_type", "retention", "reason")

    actor = None  # the user changing it (set by the admin's get_form)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tenant"].disabled = True
            self.fields["event_type"].disabled = True

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            compliance.retention_override_check(
                actor=self.actor,
                tenant=data["tenant"],
                event_type=data["event_type"],
                retention=data["retention"],
                reason=data.get("reason") or "",
            )
        except AuditRetentionError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(AuditRetentionOverride)
class AuditRetentionOverrideAdmin(_ComplianceFormAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """A tenant keeps an event type longer than its class (never shorter)."""

    form = RetentionOverrideForm
    list_display = ("tenant", "event_type", "default_class", "retention", "reason", "created_by", "created_at")
    list_filter = ("tenant", "retention")
    list_select_related = ("tenant", "created_by")

    def has_delete_permission(self, request, obj=None):
        return False  # removing an override would shorten retention

    @admin.display(description="default class")
    def default_class(self, obj) -> str:
        return catalogue.retention_class(obj.event_type)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = compliance.retention_override_set(
            actor=request.user,
            tenant=data["tenant"] if not change else obj.tenant,
            event_type=data["event_type"] if not change else obj.event_type,
            retention=data["retention"],
            reason=data["reason"],
        )
        obj.pk = saved.pk
        obj._state.adding = False


@admin.register(AuditTombstone)
class AuditTombstoneAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the retention purge left of the segments it removed: range, count, leaves root, signature."""

    list_display = ("first", "last", "count", "events_from", "events_until", "purged_at", "leaves_root")

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser  # the whole log's, every tenant's: not for tenant staff


@admin.register(AuditSigningKey)
class AuditSigningKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys that have signed events, for information: verification trusts only the configured keys."""

    list_display = ("key_id", "public_key", "created_at", "trusted")

    @admin.display(boolean=True, description="trusted (configured)")
    def trusted(self, obj: AuditSigningKey) -> bool:
        return trusted_keys().get(obj.key_id) == obj.public_key


# Celery beat's schedules are configuration (the daily audit verification and purge run from them): their admin
# pages, as django_celery_beat defines them, with every add, change and delete audited.
class PeriodicTaskAdmin(AuditedAdminMixin, beat_admin.PeriodicTaskAdmin):
    """Its list actions (enable, disable, toggle, run now) change rows with ``queryset.update``, which Django's
    admin does not log: each is audited here, one ``admin.changed`` event per task."""

    def _audited_action(self, name, request, queryset):
        tasks = list(queryset)
        result = getattr(super(), name)(request, queryset)
        for task in tasks:
            self._audit_admin("admin.changed", request, task, None, [{"changed": {"fields": [name]}}])
        return result

    @admin.action(description="Enable selected tasks")
    def enable_tasks(self, request, queryset):
        return self._audited_action("enable_tasks", request, queryset)

    @admin.action(description="Disable selected tasks")
    def disable_tasks(self, request, queryset):
        return self._audited_action("disable_tasks", request, queryset)

    @admin.action(description="Toggle activity of selected tasks")
    def toggle_tasks(self, request, queryset):
        return self._audited_action("toggle_tasks", request, queryset)

    @admin.action(description="Run selected tasks")
    def run_tasks(self, request, queryset):
        return self._audited_action("run_tasks", request, queryset)


class ClockedScheduleAdmin(AuditedAdminMixin, beat_admin.ClockedScheduleAdmin):
    pass


class CrontabScheduleAdmin(AuditedAdminMixin, beat_admin.CrontabScheduleAdmin):
    pass


class SolarScheduleAdmin(AuditedAdminMixin, beat_admin.SolarScheduleAdmin):
    pass


class IntervalScheduleAdmin(AuditedAdminMixin, beat_admin.IntervalScheduleAdmin):
    pass


for _model, _admin in [
    (PeriodicTask, PeriodicTaskAdmin),
    (ClockedSchedule, ClockedScheduleAdmin),
    (CrontabSchedule, CrontabScheduleAdmin),
    (SolarSchedule, SolarScheduleAdmin),
    (IntervalSchedule, IntervalScheduleAdmin),
]:
    admin.site.unregister(_model)
    admin.site.register(_model, _admin)


def _compliance_tenants(request, record_type: str):
    """The tenants whose compliance pages this user may see: superusers all, others those where the policy gives
    them ``record_type`` (the compliance role or higher there). Django's groups are global, so membership of a
    tenant is not enough: a reader of B who administers C must not read B's review."""
    if request.user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(
        pk__in=access.tenants_allowing(subject=access.subject_for_request(request), record_type=record_type)
    )


def _tenant_or_every(request, record_type: str) -> dict:
    """The tenant field of a record that may also be about every tenant: superusers may leave it empty (every
    tenant), others pick one of their compliance tenants."""
    if request.user.is_superuser:
        return {"empty_label": "every tenant"}
    return {"required": True, "empty_label": None, "queryset": _compliance_tenants(request, record_type)}


class AccessReviewLaunchForm(forms.ModelForm):
    """Launch a tenant's review: the quarter (default this one) and the due date (default in 30 days)."""

    class Meta:
        model = AccessReview
        fields = ("tenant", "period", "due_at")

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        now = timezone.now()
        self.fields["period"].initial = compliance.quarter_of(now)
        self.fields["due_at"].initial = now + timedelta(days=settings.ACCESS_REVIEW_DUE_DAYS)
        self.fields["due_at"].help_text = "Every item decided by then; reminders start a week before, an alert after."

    def clean(self):
        data = super().clean()
        tenant, period = data.get("tenant"), data.get("period")
        if tenant is None or not period:
            return data
        try:
            start, _ = compliance.quarter_bounds(period)
        except AccessReviewError as exc:
            raise forms.ValidationError({"period": str(exc)}) from None
        if start > timezone.now():
            raise forms.ValidationError({"period": f"{period} has not started: a review is launched once it has."})
        if not compliance.access_review_allowed(actor=self.request.user, tenant_id=tenant.pk):
            raise forms.ValidationError(f"Launching an access review needs the compliance role in {tenant}.")
        due = data.get("due_at")
        if due is not None and due <= timezone.now():
            raise forms.ValidationError({"due_at": "The due date is in the past."})
        if due is not None and due > timezone.now() + timedelta(days=compliance.REVIEW_DUE_MAX_DAYS):
            raise forms.ValidationError(
                {"due_at": f"The due date is more than {compliance.REVIEW_DUE_MAX_DAYS} days away."}
            )
        return data


@admin.register(AccessReview)
class AccessReviewAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Quarterly access reviews: launch one (its population is frozen then), decide every item on the review
    page, close it when nothing is pending, export the signed record of its decisions."""

    form = AccessReviewLaunchForm
    list_display = ("__str__", "tenant", "period", "status", "progress", "findings", "due_at", "overdue")
    list_filter = ("status", "tenant", "period")
    list_select_related = ("tenant", "launched_by")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class WithRequest(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, request=request, **inner)

        return WithRequest

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and not request.user.is_superuser:
            kwargs["queryset"] = _compliance_tenants(request, "accessreview")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(tenant__in=_compliance_tenants(request, "accessreview"))
            .annotate(
                item_count=Count("items"),
                pending_count=Count("items", filter=Q(items__decision=AccessDecision.PENDING)),
                flagged_count=Count("items", filter=~Q(items__findings=[])),
            )
        )

    @admin.display(description="decided")
    def progress(self, obj) -> str:
        return f"{obj.item_count - obj.pending_count} of {obj.item_count}"

    @admin.display(description="with findings")
    def findings(self, obj) -> int:
        return obj.flagged_count

    @admin.display(description="overdue", boolean=True)
    def overdue(self, obj) -> bool:
        return obj.status == AccessReviewStatus.OPEN and obj.due_at < timezone.now()

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            saved = compliance.access_review_launch(
                tenant=form.cleaned_data["tenant"],
                period=form.cleaned_data["period"],
                due_at=form.cleaned_data["due_at"],
                actor=request.user,
            )
        except AccessReviewError as exc:  # launched meanwhile: the form checked everything else
            raise PermissionDenied(str(exc)) from None
        obj.pk = saved.pk
        obj._state.adding = False

    def response_add(self, request, obj, post_url_continue=None):
        count = AccessReviewItem.objects.filter(review_id=obj.pk).count()
        self.message_user(request, f"Launched: {count} item(s) frozen for review.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:compliance_accessreview_change", args=[obj.pk]))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:review_id>/items/<int:item_id>/decide/",
                view(self.decide_view),
                name="compliance_accessreview_decide",
            ),
            path("<int:review_id>/close/", view(self.close_view), name="compliance_accessreview_close"),
            path("<int:review_id>/export/", view(self.export_view), name="compliance_accessreview_export"),
            *super().get_urls(),
        ]

    def _review(self, request, review_id) -> AccessReview:
        review = self.get_queryset(request).filter(pk=review_id).select_related("tenant").first()
        if review is None or not self.has_view_permission(request, review):
            raise PermissionDenied
        return review

    def change_view(self, request, object_id, form_url="", extra_context=None):
        review = self.get_object(request, object_id)  # None for a malformed id too
        if review is None or not self.has_view_permission(request, review):
            # as Django answers for a row the admin does not show: back to the index, "does not exist"
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        show = request.GET.get("show", "pending")
        context = {
            **self.admin_site.each_context(request),
            **compliance_selectors.access_review_page(review=review, user=request.user, show=show),
            "title": f"Access review {review}",
            "opts": self.model._meta,
            "roles": Role.choices,
            "clearances": Sensitivity.choices,
        }
        return TemplateResponse(request, "admin/compliance/accessreview/review.html", context)

    def decide_view(self, request, review_id, item_id):
        review = self._review(request, review_id)
        back = reverse("admin:compliance_accessreview_change", args=[review.pk])
        back += f"?show={request.POST.get('show', 'pending')}"
        if request.method != "POST":
            return HttpResponseRedirect(back)
        item = AccessReviewItem.objects.filter(pk=item_id, review=review).first()
        if item is None:
            self.message_user(request, "No such item in this review.", messages.ERROR)
            return HttpResponseRedirect(back)
        post = request.POST
        try:
            compliance.access_review_decide(
                item=item,
                actor=request.user,
                decision=post.get("decision", ""),
                reason=post.get("reason", ""),
                role=post.get("role") or None,
                clearance=post.get("clearance") or None,
            )
        except AccessReviewError as exc:
            self.message_user(request, f"Not decided: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"{item}: {post.get('decision')}.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    def close_view(self, request, review_id):
        review = self._review(request, review_id)
        back = reverse("admin:compliance_accessreview_change", args=[review.pk])
        if request.method == "POST":
            try:
                compliance.access_review_close(review=review, actor=request.user)
            except AccessReviewError as exc:
                self.message_user(request, f"Not closed: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{review} closed: every item is decided.", messages.SUCCESS)
        return HttpResponseRedirect(back + "?show=all")

    def export_view(self, request, review_id):
        review = self._review(request, review_id)
        try:
            data, name = compliance.access_review_export(review=review, actor=request.user)
        except AccessReviewError as exc:
            self.message_user(request, f"Not exported: {exc}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:compliance_accessreview_change", args=[review.pk]))
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


# --------------------------------------------------------------------------- SOC 2 controls (plan D-1)


@admin.register(Control)
class ControlAdmin(ReadOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    """The control dashboard: every control of the library with its live status (computed from the product's
    telemetry), for the installation or one tenant; filter by status and owner, open a control for its evidence."""

    list_display = ("code", "title", "owner", "frequency")
    change_list_template = "admin/compliance/control/dashboard.html"
    change_form_template = "admin/compliance/control/detail.html"

    def _tenant(self, request) -> Tenant | None:
        """The tenant asked for (?tenant=slug), among those the user may see; None: the installation (superusers),
        else the user's first tenant."""
        allowed = _compliance_tenants(request, "controlapplicability")
        slug = request.GET.get("tenant", "")
        tenant = allowed.filter(slug=slug).first() if slug else None
        if tenant is None and not request.user.is_superuser:
            tenant = allowed.order_by("slug").first()
            if tenant is None:  # no tenant where they are compliance staff: nothing, never the installation
                raise PermissionDenied("The control dashboard needs the compliance role in a tenant.")
        return tenant

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = self._tenant(request)
        status, owner = request.GET.get("status", ""), request.GET.get("owner", "")
        rows = health.control_health(tenant=tenant)
        counts = {s: sum(1 for r in rows if r.status == s) for s in ("green", "amber", "red", "excluded")}
        owners = sorted({r.control.owner for r in rows})
        shown = [r for r in rows if (not status or r.status == status) and (not owner or r.control.owner == owner)]
        tenants = _compliance_tenants(request, "controlapplicability")
        context = {
            **self.admin_site.each_context(request),
            "title": "SOC 2 controls",
            "opts": self.model._meta,
            "rows": shown,
            "counts": counts,
            "total": len(rows),
            "owners": owners,
            "status": status,
            "owner": owner,
            "tenant": tenant,
            "tenants": tenants.order_by("slug"),
            "installation": request.user.is_superuser,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.change_list_template, context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("Controls follow the library (controls_sync); they are not edited here.")
        control = self.get_object(request, object_id)
        if control is None or not self.has_view_permission(request, control):
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        tenant = self._tenant(request)
        row = health.control_health(tenant=tenant, controls=[control])[0]
        context = {
            **self.admin_site.each_context(request),
            "title": str(control),
            "opts": self.model._meta,
            "original": control,
            "row": row,
            "tenant": tenant,
            "attestations": control.attestations.filter(
                Q(tenant__isnull=True) | Q(tenant=tenant) if tenant else Q(tenant__isnull=True)
            )[:20],
        }
        return TemplateResponse(request, self.change_form_template, context)


class ControlApplicabilityForm(forms.ModelForm):
    class Meta:
        model = ControlApplicability
        fields = ("tenant", "control", "applicable", "reason")

    def clean(self):
        data = super().clean()
        if data.get("applicable") is False and not (data.get("reason") or "").strip():
            raise forms.ValidationError({"reason": "Say why the control does not apply to this tenant."})
        return data


@admin.register(ControlApplicability)
class ControlApplicabilityAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """A tenant's Statement of Applicability: controls excluded (with why) or included again."""

    form = ControlApplicabilityForm
    list_display = ("control", "tenant", "applicable", "reason", "decided_by", "updated_at")
    list_filter = ("applicable", "tenant")
    list_select_related = ("control", "tenant", "decided_by")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and not request.user.is_superuser:
            kwargs["queryset"] = _compliance_tenants(request, "controlapplicability")
        if db_field.name == "control":
            kwargs["queryset"] = Control.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # include a control again instead: the history of decisions stays

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            saved = compliance.applicability_set(
                tenant=data["tenant"],
                control=data["control"],
                applicable=data["applicable"],
                reason=data.get("reason", ""),
                actor=request.user,
            )
        except ComplianceError as exc:
            raise PermissionDenied(str(exc)) from None
        obj.pk = saved.pk
        obj._state.adding = False


class ControlAttestationForm(forms.ModelForm):
    class Meta:
        model = ControlAttestation
        fields = ("control", "tenant", "statement", "document_sha256", "effective_from", "effective_until")

    def clean(self):
        data = super().clean()
        start, end = data.get("effective_from"), data.get("effective_until")
        if start and end and end < start:
            raise forms.ValidationError({"effective_until": "The period ends before it starts."})
        digest = (data.get("document_sha256") or "").strip().lower()
        if digest and (len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)):
            raise forms.ValidationError({"document_sha256": "A SHA-256 is 64 hexadecimal digits."})
        return data


@admin.register(ControlAttestation)
class ControlAttestationAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Attestations of the controls the product cannot measure: what was done, for which period, with the
    document's hash. Never edited or deleted: a correction is a new attestation."""

    form = ControlAttestationForm
    list_display = ("control", "tenant", "effective_from", "effective_until", "attested_by", "attested_at")
    list_filter = ("control", "tenant")
    list_select_related = ("control", "tenant", "attested_by")
    tenant_null_visible_to_superusers_only = False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant":
            kwargs.update(_tenant_or_every(request, "controlattestation"))
        if db_field.name == "control":
            kwargs["queryset"] = Control.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        tenant_ids = _compliance_tenants(request, "controlattestation").values_list("pk", flat=True)
        return queryset.filter(Q(tenant__in=tenant_ids) | Q(tenant__isnull=True))

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            saved = compliance.control_attest(
                control=data["control"],
                tenant=data.get("tenant"),
                statement=data["statement"],
                document_sha256=data.get("document_sha256", ""),
                effective_from=data["effective_from"],
                effective_until=data["effective_until"],
                actor=request.user,
            )
        except ComplianceError as exc:
            raise PermissionDenied(str(exc)) from None
        obj.pk = saved.pk
        obj._state.adding = False


# --------------------------------------------------------------------------- evidence bundle v4


class EvidenceBundleForm(forms.ModelForm):
    class Meta:
        model = EvidenceBundle
        fields = ("tenant", "period")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period"].initial = compliance.quarter_of(timezone.now())

    def clean(self):
        data = super().clean()
        period = data.get("period")
        if period:
            try:
                period_problem(tenant=data.get("tenant"), period=period)
            except ComplianceError as exc:
                raise forms.ValidationError({"period": str(exc)}) from None
        return data


@admin.register(EvidenceBundle)
class EvidenceBundleAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Evidence bundles: ask for a quarter's (a Celery task builds it, its page shows the progress live), then
    download the signed zip an auditor checks with scripts/evidence_verify.py."""

    form = EvidenceBundleForm
    list_display = ("__str__", "tenant", "period", "status", "progress", "gaps", "requested_by", "created_at")
    list_filter = ("status", "tenant", "period")
    list_select_related = ("tenant", "requested_by")
    progress_template = "admin/compliance/evidencebundle/progress.html"  # the change page; the add page is Django's

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant":
            kwargs.update(_tenant_or_every(request, "evidencebundle"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(tenant__in=_compliance_tenants(request, "evidencebundle"))

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            saved = compliance.evidence_bundle_request(
                tenant=form.cleaned_data.get("tenant"), period=form.cleaned_data["period"], actor=request.user
            )
        except ComplianceError as exc:
            raise PermissionDenied(str(exc)) from None
        obj.pk = saved.pk
        obj._state.adding = False

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, "Queued: the bundle is being built; this page follows it.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:compliance_evidencebundle_change", args=[obj.pk]))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:bundle_id>/progress/", view(self.progress_view), name="compliance_evidencebundle_progress"),
            path("<int:bundle_id>/download/", view(self.download_view), name="compliance_evidencebundle_download"),
            *super().get_urls(),
        ]

    def _bundle(self, request, bundle_id) -> EvidenceBundle:
        bundle = self.get_queryset(request).filter(pk=bundle_id).first()
        if bundle is None or not self.has_view_permission(request, bundle):
            raise PermissionDenied
        return bundle

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("A bundle is never edited: ask for a new one.")
        bundle = self.get_object(request, object_id)
        if bundle is None or not self.has_view_permission(request, bundle):
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": str(bundle),
            "opts": self.model._meta,
            "original": bundle,
            "bundle": bundle,
        }
        return TemplateResponse(request, self.progress_template, context)

    def progress_view(self, request, bundle_id):
        bundle = self._bundle(request, bundle_id)
        return JsonResponse(
            {
                "status": bundle.status,
                "progress": bundle.progress,
                "step": bundle.step,
                "gaps": bundle.gaps,
                "sha256": bundle.sha256,
                "error": bundle.error,
                "download": reverse("admin:compliance_evidencebundle_download", args=[bundle.pk])
                if bundle.status == EvidenceBundle.Status.DONE
                else None,
            }
        )

    def download_view(self, request, bundle_id):
        bundle = self._bundle(request, bundle_id)
        if bundle.status != EvidenceBundle.Status.DONE or not bundle.file:
            self.message_user(request, "The bundle is not ready.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:compliance_evidencebundle_change", args=[bundle.pk]))
        compliance.evidence_bundle_downloaded(bundle=bundle, actor=request.user)
        return FileResponse(bundle.file.open("rb"), as_attachment=True, filename=bundle.file.name.rsplit("/", 1)[-1])
