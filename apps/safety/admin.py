"""Data safety in the admin: the backup policy (with history), backups (take one, pin, hold), restore points,
graph snapshots, and restore drills (run one, follow it live, read its signed report, the RTO chart).

Backups and drills concern the whole installation, every tenant's data: superusers only, never a tenant's staff.
Admin classes stay thin: every action goes through ``apps.safety.services`` or ``apps.safety.drills``.
"""

from __future__ import annotations

import datetime
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from apps.access.admin_scoping import ReadOnlyAdminMixin
from apps.audit.admin import AuditedAdminMixin
from apps.safety import drills, engine, selectors, services
from apps.safety.choices import BackupKind, BackupStatus, DrillStatus, Trigger
from apps.safety.errors import SafetyError
from apps.safety.models import Backup, BackupPolicy, GraphSnapshot, RestoreDrill, RestorePoint, RetentionTier


class SuperuserOnlyMixin:
    """The installation's backups and drills: superusers only (a tenant administrator is not trusted beyond it)."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request, obj=None):
        return False  # rows come from services (a policy row exists from the first look on)

    def has_delete_permission(self, request, obj=None):
        return False  # backups go by retention, drills and points are evidence


# --------------------------------------------------------------------------- policy


class RetentionTierInline(admin.TabularInline):
    model = RetentionTier
    extra = 0
    min_num = 1
    fields = ("period", "keep")

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(BackupPolicy)
class BackupPolicyAdmin(SuperuserOnlyMixin, AuditedAdminMixin, SimpleHistoryAdmin):
    """One policy: the changelist opens it. Every save is audited (``backup.policy_changed``) and applied to
    Barman's configuration and the Celery beat schedules at once."""

    inlines = [RetentionTierInline]
    readonly_fields = ("encryption_at_rest", "encryption_in_transit", "repository", "derived_schedules")
    fieldsets = (
        ("Schedules (UTC crontabs; Celery beat entries follow)", {
            "fields": ("full_schedule", "incremental_schedule", "wal_archive_timeout_seconds", "drill_schedule",
                       "derived_schedules"),
        }),
        ("Maintenance window and throughput (risk R3)", {
            "fields": ("window_start", "window_end", "throughput_limit_mb_s"),
        }),
        ("Limits and alerts", {
            "fields": ("rto_limit_seconds", "rpo_limit_seconds", "max_backup_age_hours", "max_wal_age_seconds"),
        }),
        ("Encryption and repository", {
            "fields": ("encryption_at_rest", "encryption_in_transit", "repository"),
        }),
    )  # fmt: skip

    def get_queryset(self, request):
        BackupPolicy.current()  # the one row exists from the first look on
        return super().get_queryset(request)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:safety_backuppolicy_change", args=[BackupPolicy.current().pk]))

    @admin.display(description="encryption at rest")
    def encryption_at_rest(self, obj):
        try:
            key = engine.key_id()
        except SafetyError as exc:
            return format_html('<strong style="color:#dc2626">{}</strong>', str(exc))
        return format_html("{} · key <code>{}</code> (from BACKUP_GPG_KEY)", engine.CIPHER, key)

    @admin.display(description="encryption in transit")
    def encryption_in_transit(self, obj):
        return (
            "pg_basebackup and the WAL use the database connection's TLS (DATABASE_URL ?sslmode=verify-full in "
            "production). The embedded default runs on 127.0.0.1 without TLS: nothing leaves the machine. A "
            "repository on a mounted volume is reached through its own transport (e.g. NFS over TLS)."
        )

    @admin.display(description="repository")
    def repository(self, obj):
        return f"{engine.server_dir()} (Barman home {engine.config_path().parent})"

    @admin.display(description="beat entries derived from it")
    def derived_schedules(self, obj):
        if not obj.pk:
            return "—"
        saved = BackupPolicy.objects.get(pk=obj.pk)  # what beat runs now, not a form's rejected input
        return ", ".join(schedule.name for schedule in services.policy_schedules(saved)) or "none"

    def get_form(self, request, obj=None, **kwargs):
        request._policy_before = services.policy_fields(obj) if obj is not None else {}
        return super().get_form(request, obj, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        policy = form.instance
        policy.refresh_from_db()
        services.policy_changed(actor=request.user, policy=policy, before=getattr(request, "_policy_before", {}))


# --------------------------------------------------------------------------- backups


class BackupKeepForm(forms.ModelForm):
    class Meta:
        model = Backup
        fields = ("pinned", "legal_hold", "hold_reason")

    def clean(self):
        data = super().clean()
        backup = self.instance
        if data.get("legal_hold") and not (data.get("hold_reason") or "").strip():
            self.add_error("hold_reason", "Give a reason for the legal hold (the matter, the request).")
        if backup.legal_hold and not data.get("legal_hold") and not (data.get("hold_reason") or "").strip():
            self.add_error("hold_reason", "Give a reason to lift the legal hold.")
        if backup.legal_hold and data.get("legal_hold") and not data.get("pinned") and backup.pinned:
            self.add_error("pinned", "The backup is under legal hold: lift the hold first.")
        if backup.status not in (BackupStatus.GOOD, BackupStatus.BAD):
            raise forms.ValidationError(f"A {backup.status} backup cannot be pinned or held.")
        return data


@admin.register(Backup)
class BackupAdmin(SuperuserOnlyMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = BackupKeepForm
    change_list_template = "admin/safety/backup/change_list.html"
    list_display = (
        "backup_id", "kind", "status_badge", "started_at", "duration", "size", "pinned", "legal_hold", "tier",
    )  # fmt: skip
    list_filter = ("status", "kind", "pinned", "legal_hold")
    fields = (
        "pinned", "legal_hold", "hold_reason", "backup_id", "kind", "parent", "status", "trigger", "requested_by",
        "started_at", "finished_at", "duration_seconds", "consistent_at", "size_bytes", "cluster_size_bytes",
        "begin_lsn", "end_lsn", "begin_wal", "end_wal", "timeline", "system_identifier", "pg_version", "encryption",
        "files", "tier", "verified_at", "error",
    )  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [name for name in self.fields if name not in ("pinned", "legal_hold", "hold_reason")]

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colour = {"good": "#16a34a", "running": "#2563eb"}.get(obj.status, "#dc2626")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_status_display())

    @admin.display(description="took")
    def duration(self, obj):
        return f"{obj.duration_seconds:,.1f} s" if obj.duration_seconds is not None else "—"

    @admin.display(description="size on disk", ordering="size_bytes")
    def size(self, obj):
        return f"{obj.size_bytes / 1e6:,.1f} MB"

    def save_model(self, request, obj, form, change):
        original = Backup.objects.get(pk=obj.pk)
        try:
            services.backup_keep(
                original,
                actor=request.user,
                pinned=form.cleaned_data["pinned"],
                legal_hold=form.cleaned_data["legal_hold"],
                reason=form.cleaned_data.get("hold_reason") or "",
            )
        except SafetyError as exc:
            raise PermissionDenied(str(exc)) from None

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("take/", view(self.take_view), name="safety_backup_take"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {**(extra_context or {}), "summary": selectors.repository_summary(), "kinds": BackupKind.choices}
        extra["problems"] = services.freshness_problems()
        return super().changelist_view(request, extra_context=extra)

    def take_view(self, request):
        if request.method != "POST" or not request.user.is_superuser:
            raise PermissionDenied
        kind = request.POST.get("kind")
        if kind not in BackupKind.values:
            self.message_user(request, "Choose full or incremental.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:safety_backup_changelist"))
        from apps.safety.tasks import backup_take

        backup_take.delay(kind, request.user.pk)
        self.message_user(request, f"Queued: a {kind} backup starts on a worker; this list shows it.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:safety_backup_changelist"))


@admin.register(RestorePoint)
class RestorePointAdmin(ReadOnlyAdminMixin, SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "created_at", "lsn", "tables", "rows", "lock_wait_seconds", "checksum_seconds", "graph")
    readonly_fields = ("name", "created_at", "lsn", "outbox_position", "graph_snapshot", "lock_wait_seconds",
                       "checksum_seconds", "requested_by", "checksums")  # fmt: skip

    @admin.display(description="tables")
    def tables(self, obj):
        return len(obj.checksums)

    @admin.display(description="rows")
    def rows(self, obj):
        return f"{sum(t['rows'] for t in obj.checksums.values()):,}"

    @admin.display(description="graph snapshot", boolean=True)
    def graph(self, obj):
        return obj.graph_snapshot_id is not None


@admin.register(GraphSnapshot)
class GraphSnapshotAdmin(ReadOnlyAdminMixin, SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ("taken_at", "outbox_position", "pending_outbox", "size_bytes", "seconds", "path")
    readonly_fields = ("taken_at", "path", "size_bytes", "sha256", "outbox_position", "pending_outbox", "seconds")


# --------------------------------------------------------------------------- drills


class DrillRequestForm(forms.Form):
    target_time = forms.DateTimeField(
        required=False,
        help_text="UTC, e.g. 2026-12-04 10:15:00. Empty: a restore point taken when the drill starts.",
        widget=forms.DateTimeInput(attrs={"placeholder": "YYYY-MM-DD HH:MM:SS (UTC)", "size": 24}),
    )

    def clean_target_time(self):
        value = self.cleaned_data.get("target_time")
        if value is None:
            return None
        if timezone.is_naive(value):
            value = timezone.make_aware(value, datetime.UTC)
        problem = drills.target_problem(value)
        if problem:
            raise forms.ValidationError(problem[0].upper() + problem[1:] + ".")
        return value


@admin.register(RestoreDrill)
class RestoreDrillAdmin(ReadOnlyAdminMixin, SuperuserOnlyMixin, admin.ModelAdmin):
    change_list_template = "admin/safety/restoredrill/change_list.html"
    change_form_template = "admin/safety/restoredrill/drill.html"
    list_display = ("id", "status_badge", "trigger", "requested_by", "started_at", "rto", "rpo", "backup", "signed")
    list_filter = ("status", "trigger")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colour = {"passed": "#16a34a", "running": "#2563eb", "queued": "#64748b"}.get(obj.status, "#dc2626")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_status_display())

    @admin.display(description="RTO", ordering="rto_seconds")
    def rto(self, obj):
        return f"{obj.rto_seconds:,.1f} s" if obj.rto_seconds is not None else "—"

    @admin.display(description="RPO", ordering="rpo_seconds")
    def rpo(self, obj):
        return f"{obj.rpo_seconds:,.1f} s" if obj.rpo_seconds is not None else "—"

    @admin.display(description="signature verifies", boolean=True)
    def signed(self, obj):
        return drills.report_problem(obj) is None if obj.report else None

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("run/", view(self.run_view), name="safety_restoredrill_run"),
            path("<int:drill_id>/progress/", view(self.progress_view), name="safety_restoredrill_progress"),
            path("<int:drill_id>/report.json", view(self.report_view), name="safety_restoredrill_report"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        policy = BackupPolicy.current()
        history = selectors.drill_history()
        extra = {
            **(extra_context or {}),
            "chart": selectors.rto_chart(history, limit_seconds=policy.rto_limit_seconds),
            "policy": policy,
            "form": getattr(request, "_drill_form", None) or DrillRequestForm(),
            "running": RestoreDrill.objects.filter(status__in=[DrillStatus.QUEUED, DrillStatus.RUNNING]).first(),
        }
        return super().changelist_view(request, extra_context=extra)

    def run_view(self, request):
        if request.method != "POST" or not request.user.is_superuser:
            raise PermissionDenied
        form = DrillRequestForm(request.POST)
        if not form.is_valid():
            request._drill_form = form
            request.method = "GET"
            return self.changelist_view(request)
        try:
            drill = drills.drill_request(
                actor=request.user, trigger=Trigger.ADMIN, target=form.cleaned_data["target_time"]
            )
        except SafetyError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:safety_restoredrill_changelist"))
        self.message_user(request, f"Restore drill #{drill.pk} queued: this page follows it live.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:safety_restoredrill_change", args=[drill.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("A drill's report is never edited.")
        drill = self.get_object(request, object_id)
        if drill is None or not self.has_view_permission(request, drill):
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": str(drill),
            "opts": self.model._meta,
            "original": drill,
            "drill": drill,
            "progress": drills.progress_document(drill),
            "signature_problem": drills.report_problem(drill) if drill.report else None,
            "report_json": json.dumps(drill.report, indent=2, sort_keys=True, default=str),
        }
        return TemplateResponse(request, self.change_form_template, context)

    def report_view(self, request, drill_id):
        """The signed report as a file, for an auditor to keep or verify elsewhere (the signature covers it)."""
        drill = RestoreDrill.objects.filter(pk=drill_id).first()
        if drill is None or not self.has_view_permission(request, drill):
            raise PermissionDenied
        if not drill.report:
            raise Http404("This drill has no report yet.")
        response = JsonResponse({"report": drill.report, "signature": drill.signature}, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="restore-drill-{drill.pk}.json"'
        return response

    def progress_view(self, request, drill_id):
        drill = RestoreDrill.objects.filter(pk=drill_id).first()
        if drill is None or not self.has_view_permission(request, drill):
            raise PermissionDenied
        return JsonResponse(drills.progress_document(drill))
