"""The budget-cap UI (plan F-2): the rate card (superusers), budgets with caps per category and thresholds
(tenant administrators, their tenant only), the alerts sent, usage, and overage requests (asked by a member,
decided by another person who may change the budget)."""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from apps.access import services as access
from apps.access.admin_scoping import ReadOnlyAdminMixin, TenantScopedAdminMixin
from apps.audit.admin import AuditedAdminMixin
from apps.core.models import Tenant
from apps.finops import charts, selectors, services
from apps.finops.choices import Category
from apps.finops.errors import FinopsError
from apps.finops.models import Budget, BudgetAlert, BudgetCap, OverageRequest, Rate, UsageDaily

# --------------------------------------------------------------------------- rate card


class RateForm(forms.ModelForm):
    class Meta:
        model = Rate
        fields = ("feature", "unit", "model", "price", "per", "effective_from", "note")

    def clean(self):
        cleaned = super().clean()
        original = Rate.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        candidate = Rate(**{name: cleaned.get(name) for name in self.Meta.fields if name in cleaned})
        for name, message in services.rate_problems(candidate, original=original).items():
            self.add_error(None if name == "__all__" else name, message)
        return cleaned


@admin.register(Rate)
class RateAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    """Prices are the installation's: superusers edit them; staff may read them (what their usage costs)."""

    form = RateForm
    list_display = ("feature", "unit", "model", "price", "per", "effective_from", "note")
    list_filter = ("feature", "unit")
    search_fields = ("model", "note")

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and (obj is None or services.rate_deletable(obj) is None)

    def get_form(self, request, obj=None, **kwargs):
        request._rate_before = services.rate_fields(obj) if obj is not None else None
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.rate_changed(actor=request.user, rate=obj, before=getattr(request, "_rate_before", None))

    def delete_model(self, request, obj):
        problem = services.rate_deletable(obj)
        if problem:
            raise PermissionDenied(problem)
        before = services.rate_fields(obj)
        super().delete_model(request, obj)
        services.rate_changed(actor=request.user, rate=obj, before=before, deleted=True)


# --------------------------------------------------------------------------- budgets


@dataclass
class _Costs:
    budget: Budget
    report: services.CostReport
    group: str
    label: str
    columns: tuple[str, ...]
    problem: str | None


class BudgetCapInline(admin.TabularInline):
    model = BudgetCap
    extra = 0
    max_num = len(Category.values)


def _bar(percent: float | None) -> str:
    if percent is None:
        return format_html('<span style="color:#64748b">no cap</span>')
    width = min(percent, 100)
    color = "#dc2626" if percent >= 100 else "#f59e0b" if percent >= 80 else "#16a34a"
    return format_html(
        '<span style="display:inline-block;width:160px;height:10px;background:#e2e8f0;vertical-align:middle">'
        '<span style="display:block;height:10px;width:{}%;background:{}"></span></span> {}%',
        f"{width:.1f}", color, f"{percent:.1f}",
    )  # fmt: skip


class _BudgetChangeList(ChangeList):
    """The budget list: the page's budget statuses read together (a fixed number of queries, not five a row)."""

    def get_results(self, request):
        super().get_results(request)
        statuses = services.budget_statuses(tenant_ids=[budget.tenant_id for budget in self.result_list])
        for budget in self.result_list:
            budget.status = statuses[budget.tenant_id]


@admin.register(Budget)
class BudgetAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    change_list_template = "admin/finops/budget/change_list.html"
    inlines = [BudgetCapInline]
    list_display = ("tenant", "total_cap", "total_action", "spent_this_month", "thresholds", "updated_at")
    readonly_fields = ("this_period",)
    fields = ("tenant", "period", "total_cap", "total_action", "thresholds", "forecast_alerts", "alert_emails",
              "this_period")  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return ("tenant", "this_period") if obj is not None else ("this_period",)

    # ----------------------------------------------------------- the drill-down (F-3)

    GROUPINGS = {
        "category": ("category", ("category",)),
        "feature": ("feature and unit", ("category", "feature", "unit")),
        "model": ("LLM model", ("feature", "unit", "model")),
        "day": ("day", ("day", "category")),
    }

    def get_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view
        return [
            path("tenants/", view(self.tenants_view), name="finops_budget_tenants"),
            path("tenants.csv", view(self.tenants_csv_view), name="finops_budget_tenants_csv"),
            path("<int:budget_id>/costs/", view(self.costs_view), name="finops_budget_costs"),
            path("<int:budget_id>/costs.csv", view(self.costs_csv_view), name="finops_budget_costs_csv"),
            *super().get_urls(),
        ]

    def _costs_readable(self, request) -> list[int]:
        """The tenants whose costs this user may read: every tenant for a superuser (the platform's own staff),
        otherwise the tenants where the access policy lets them (tenant-read costs, as the GraphQL query)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.user.is_superuser:
            return list(Tenant.objects.values_list("pk", flat=True))
        subject = access.subject_for_request(request)
        return [t for t in subject.tenant_ids if access.tenant_read_allowed(subject=subject, tenant_id=t, what="costs")]

    def _compared(self, request):
        problem = None
        try:
            month = services.month_parse(request.GET.get("month", ""))
        except FinopsError as exc:
            month, problem = None, f"{exc} This month is shown."
        return services.tenants_compared(tenant_ids=self._costs_readable(request), month=month), month, problem

    def tenants_view(self, request):
        lines, month, problem = self._compared(request)
        this_month = selectors.period_bounds(timezone.now())[0]
        shown = month or this_month
        budgets = dict(
            Budget.objects.filter(tenant_id__in=[line.tenant_id for line in lines]).values_list("tenant_id", "pk")
        )
        rows, current = [], shown == this_month
        for line in lines:
            total = line.status.scope(services.TOTAL)
            top = line.top_feature
            rows.append({
                "slug": line.slug, "name": line.name, "budget": budgets.get(line.tenant_id),
                "total": services.money(line.total),
                "categories": [services.money(line.spend.total(c)) for c in Category.values],
                "cap": services.money(total.cap) if current else "—",
                "bar": _bar(total.percent) if current else "—",
                "forecast": services.money(total.forecast) if current else "—",
                "previous": services.money(line.previous),
                "change": "—" if line.change is None else f"{line.change:+.0f}%",
                "top": f"{top[0]} ({services.money(top[1])})" if top else "—",
            })  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "title": f"Costs of every tenant, {shown:%B %Y}"
            if request.user.is_superuser
            else f"Costs of your tenants, {shown:%B %Y}",
            "opts": self.model._meta,
            "month": f"{shown:%Y-%m}",
            "rows": rows,
            "categories": [Category(c).label for c in Category.values],
            "chart": charts.tenants_chart(lines),
            "problem": problem,
            "currency": settings.FINOPS_CURRENCY,
            "sum": services.money(sum((line.total for line in lines), Decimal(0))),
        }
        return TemplateResponse(request, "admin/finops/budget/tenants.html", context)

    def tenants_csv_view(self, request):
        lines, month, _ = self._compared(request)
        shown = month or selectors.period_bounds(timezone.now())[0]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="costs-tenants-{shown:%Y-%m}.csv"'
        writer = csv.writer(response)
        currency = settings.FINOPS_CURRENCY.lower()
        writer.writerow(["tenant", f"total_{currency}", *(f"{c}_{currency}" for c in Category.values),
                         f"total_cap_{currency}", f"previous_month_{currency}"])  # fmt: skip
        for line in lines:
            cap = line.status.scope(services.TOTAL).cap
            writer.writerow([line.slug, f"{line.total:.6f}", *(f"{line.spend.total(c):.6f}" for c in Category.values),
                             "" if cap is None else f"{cap:.6f}", f"{line.previous:.6f}"])  # fmt: skip
        return response

    def _costs(self, request, budget_id) -> _Costs:
        budget = self.get_queryset(request).filter(pk=budget_id).select_related("tenant").first()
        if budget is None or budget.tenant_id not in self._costs_readable(request):
            raise PermissionDenied
        problem = None
        try:
            month = services.month_parse(request.GET.get("month", ""))
        except FinopsError as exc:
            month, problem = None, f"{exc} This month is shown."
        group = request.GET.get("group", "category")
        if group not in self.GROUPINGS:
            problem, group = f"group: one of {', '.join(self.GROUPINGS)} (got {group!r}).", "category"
        label, columns = self.GROUPINGS[group]
        report = services.cost_report(tenant_id=budget.tenant_id, month=month)
        return _Costs(budget, report, group, label, columns, problem)

    def costs_view(self, request, budget_id):
        c = self._costs(request, budget_id)
        report, status, spend, start = c.report, c.report.status, c.report.spend, c.report.start
        today = timezone.now().astimezone(datetime.UTC).date()
        rows = [
            {"values": [row[name] for name in c.columns],
             "quantity": "—" if row["quantity"] is None else f"{row['quantity']:,.2f}",
             "cost": f"{row['cost']:,.4f}"}
            for row in report.rows(c.columns)
        ]  # fmt: skip
        total = status.scope(services.TOTAL)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Costs of {c.budget.tenant}, {start:%B %Y}",
            "opts": self.model._meta,
            "budget": c.budget,
            "month": f"{start:%Y-%m}",
            "start": start,
            "group": c.group,
            "groups": [(key, value[0]) for key, value in self.GROUPINGS.items()],
            "group_label": c.label,
            "group_columns": c.columns,
            "rows": rows,
            "currency": settings.FINOPS_CURRENCY,
            "problem": c.problem,
            "unpriced": sorted("/".join(filter(None, item)) for item in spend.unpriced()),
            "scopes": [
                {
                    "label": services.scope_label(s.scope),
                    "spent": services.money(spend.total(None if s.scope == services.TOTAL else s.scope)),
                    "cap": services.money(s.cap),
                    "bar": _bar(s.percent) if report.current else "—",
                    "forecast": services.money(s.forecast) if report.current else "—",
                }
                for s in status.scopes.values()
            ],
            "burn": charts.burn_chart(
                spend.lines,
                start=start,
                end=report.end,
                cap=total.cap,
                today=min(today, report.end - datetime.timedelta(days=1)),
                forecast=total.forecast if report.current else spend.total(),
            ),
            "daily": charts.daily_chart(spend.lines, start=start, end=report.end),
        }
        return TemplateResponse(request, "admin/finops/budget/costs.html", context)

    def costs_csv_view(self, request, budget_id):
        c = self._costs(request, budget_id)
        budget, start, group, columns = c.budget, c.report.start, c.group, c.columns
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="costs-{budget.tenant.slug}-{start:%Y-%m}-{group}.csv"'
        writer = csv.writer(response)
        writer.writerow([*columns, "quantity", f"cost_{settings.FINOPS_CURRENCY.lower()}"])
        for row in c.report.rows(columns):
            quantity = "" if row["quantity"] is None else f"{row['quantity']:.6f}"
            writer.writerow([*(row[name] for name in columns), quantity, f"{row['cost']:.6f}"])
        return response

    def get_changelist(self, request, **kwargs):
        return _BudgetChangeList

    @admin.display(description="spent this month")
    def spent_this_month(self, obj):
        status = getattr(obj, "status", None) or services.budget_status(tenant_id=obj.tenant_id)
        item = status.scope(services.TOTAL)
        return format_html("{} {}", services.money(item.spent), _bar(item.percent))

    @admin.display(description="this month")
    def this_period(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        link = format_html(
            '<p><a class="button" id="costs-link" href="{}">Cost drill-down: charts, by feature and model, CSV</a></p>',
            reverse("admin:finops_budget_costs", args=[obj.pk]),
        )
        status = services.budget_status(tenant_id=obj.tenant_id)
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    "Total" if s.scope == services.TOTAL else Category(s.scope).label,
                    services.money(s.spent),
                    services.money(s.cap) + (f" (incl. raise {services.money(s.raised)})" if s.raised else ""),
                    _bar(s.percent),
                    s.action if s.cap is not None else "—",
                    services.money(s.forecast),
                )
                for s in status.scopes.values()
            ),
        )
        warning = "" if status.live_counters else "Redis unreachable: PostgreSQL figures only. "
        return link + format_html(
            '<p>{}{} to {} (UTC)</p><table id="budget-status"><thead><tr><th>scope</th><th>spent</th><th>cap</th>'
            "<th>used</th><th>at 100%</th><th>month-end forecast</th></tr></thead><tbody>{}</tbody></table>",
            warning, status.start, status.end - datetime.timedelta(days=1), rows,
        )  # fmt: skip

    def get_form(self, request, obj=None, **kwargs):
        request._budget_before = services.budget_fields(obj)
        return super().get_form(request, obj, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        budget = form.instance
        budget.refresh_from_db()
        services.budget_changed(actor=request.user, budget=budget, before=getattr(request, "_budget_before", {}))


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("sent_at", "tenant", "scope", "kind", "threshold", "spent", "cap", "period_start")
    list_filter = ("tenant", "scope", "kind")
    readonly_fields = ("budget", "tenant", "scope", "kind", "threshold", "period_start", "spent", "cap", "message")


@admin.register(UsageDaily)
class UsageDailyAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("day", "tenant", "feature", "unit", "model", "quantity", "estimated")
    list_filter = ("tenant", "feature", "unit", "day")
    date_hierarchy = "day"


# --------------------------------------------------------------------------- overage requests


class OverageAskForm(forms.ModelForm):
    scope = forms.ChoiceField(choices=[(s, s) for s in services.SCOPES], initial=services.TOTAL,
                              help_text="total, or one category's cap")  # fmt: skip

    class Meta:
        model = OverageRequest
        fields = ("tenant", "scope", "amount", "reason")

    def clean_reason(self):
        reason = self.cleaned_data.get("reason", "").strip()
        if not reason:
            raise forms.ValidationError("Say why the raise is needed.")
        return reason


class OverageDecisionForm(forms.ModelForm):
    """Approve (an amount and an expiry) or reject; checked by the service, errors shown on the form."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect)
    request = None  # set by the admin

    class Meta:
        model = OverageRequest
        fields = ("approved_amount", "expires_at", "decision_note")

    def clean(self):
        cleaned = super().clean()
        user = self.request.user
        item = OverageRequest.objects.get(pk=self.instance.pk)
        if not user.is_superuser and not access.admin_change_allowed(
            subject=access.subject_for_request(self.request), tenant_id=item.tenant_id, record_type="budget"
        ):
            raise forms.ValidationError("Only someone who may change this tenant's budget decides raises.")
        problem = services.overage_problem(
            item=item, user=user, approve=cleaned.get("decision") == "approve",
            amount=cleaned.get("approved_amount"), expires_at=cleaned.get("expires_at"),
        )  # fmt: skip
        if problem:
            raise forms.ValidationError(problem)
        return cleaned


@admin.register(OverageRequest)
class OverageRequestAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("requested_at", "tenant", "scope", "amount", "requested_by", "status", "approved_amount",
                    "expires_at", "decided_by")  # fmt: skip
    list_filter = ("status", "tenant")
    _asked = ("tenant", "scope", "amount", "reason", "requested_by", "requested_at")
    _decided = ("status", "decided_by", "decided_at", "approved_amount", "expires_at", "decision_note")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("tenant", "scope", "amount", "reason")
        if obj.status != "pending":
            return (*self._asked, *self._decided)
        return (*self._asked, "decision", "approved_amount", "expires_at", "decision_note")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.status != "pending":
            return (*self._asked, *self._decided)
        return self._asked

    def has_delete_permission(self, request, obj=None):
        return False  # requests and decisions are the record

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = OverageAskForm if obj is None else OverageDecisionForm
        if obj is not None:
            kwargs["fields"] = (
                ("decision", "approved_amount", "expires_at", "decision_note") if obj.status == "pending" else ()
            )
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def save_model(self, request, obj, form, change):
        if not change:
            saved = services.overage_request(
                tenant_id=obj.tenant_id, user=request.user, scope=obj.scope, amount=obj.amount, reason=obj.reason
            )
            obj.pk, obj.requested_by, obj.requested_at = saved.pk, saved.requested_by, saved.requested_at
            return
        if "decision" not in form.cleaned_data:
            return
        services.overage_decide(
            item=OverageRequest.objects.get(pk=obj.pk), user=request.user,
            approve=form.cleaned_data["decision"] == "approve", amount=form.cleaned_data.get("approved_amount"),
            expires_at=form.cleaned_data.get("expires_at"), note=form.cleaned_data.get("decision_note") or "",
        )  # fmt: skip
        obj.refresh_from_db()
