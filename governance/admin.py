"""The governance console: businesses and members, budgets with live spend, execution policies,
operator tokens, the emergency stop (see ``stop_admin``) and the read-only audit log.

Every change made here goes through the same audit and events as the API.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.utils.functional import cached_property
from django.utils.html import format_html

from governance import policies, services
from governance.models import (
    AuditEntry,
    Budget,
    Business,
    EmergencyStop,
    ExecutionPolicy,
    Membership,
    OperatorToken,
)
from governance.roles import Role
from governance.selectors import agent_business_id, live_spend
from governance.signin_forms import AdminSignInForm
from governance.stop_admin import EmergencyStopAdmin
from governance.throttling import parse_rate
from mission_control.display import money, money_exact
from mission_control.errors import DomainError
from mission_control.service_admin import ServiceAdmin

admin.site.register(EmergencyStop, EmergencyStopAdmin)
# Says "too many attempts" when the sign-in limits (governance.signin) refuse one.
admin.site.login_form = AdminSignInForm


# What a budget's change page may change: its scope (business, agent, model, period) is its identity.
BUDGET_EDITABLE = ("limit_usd", "soft_limit_pct", "enabled")


def _dollars(value) -> str:
    """The pages' money rule, the exact figure in the tooltip."""
    return format_html('<span title="{}">{}</span>', money_exact(value), money(value))


class BoundedCountPaginator(Paginator):
    """Counts at most ``CAP`` rows (``LIMIT`` inside the count): tables that grow without end
    never pay for a full ``COUNT(*)``; beyond the cap the last pages are simply not linked."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.CAP].count()


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # through the Membership page, which audits every change


@admin.register(Business)
class BusinessAdmin(ServiceAdmin):
    list_display = ["name", "slug", "timezone", "members", "stopped", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["timezone"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "created_at"] if obj else ["created_at"]

    def save_model(self, request, obj, form, change):
        # The API's services: a new business gets its creator as owner and its event.
        data = form.cleaned_data
        if change:
            changed = {name: data[name] for name in form.changed_data if name in ("name", "timezone")}
            services.update_business(business=obj, actor=request.user, **changed)
        else:
            obj.pk = services.create_business(
                name=data["name"], slug=data["slug"], owner=request.user, timezone_name=data["timezone"]
            ).pk

    def get_queryset(self, request):
        active = EmergencyStop.objects.active().filter(business=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("memberships"), is_stopped=Exists(active))
        )

    @admin.display(description="members", ordering="member_count")
    def members(self, business):
        return business.member_count

    @admin.display(description="emergency stop", boolean=True)
    def stopped(self, business):
        return business.is_stopped


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "business", "role"]

    def clean(self):
        data = super().clean()
        current = self.instance
        if current.pk and current.role == Role.OWNER and data.get("role") != Role.OWNER:
            others = Membership.objects.filter(business=current.business, role=Role.OWNER).exclude(
                pk=current.pk
            )
            if not others.exists():
                raise ValidationError("A business must keep at least one owner.")
        return data


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipForm
    list_display = ["user", "business", "role", "created_at"]
    list_filter = ["role", "business"]
    search_fields = ["user__username", "user__email", "business__name", "business__slug"]
    list_select_related = ["user", "business"]
    autocomplete_fields = ["user", "business"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "business", "created_at"] if obj else ["created_at"]

    def save_model(self, request, obj, form, change):
        membership = services.set_member(
            business=obj.business, username=obj.user.get_username(), role=obj.role, actor=request.user
        )
        obj.pk = membership.pk

    def delete_model(self, request, obj):
        try:
            services.remove_member(
                business=obj.business, username=obj.user.get_username(), actor=request.user
            )
        except DomainError as refused:
            messages.error(request, str(refused.detail))

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "business"):
            self.delete_model(request, membership)


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = ["business", "agent_id", "model", "period", "limit_usd", "soft_limit_pct", "enabled"]

    def clean(self):
        data = super().clean()
        agent_id, business = data.get("agent_id"), data.get("business")
        if agent_id and business and agent_business_id(agent_id) != business.pk:
            self.add_error("agent_id", "No such agent in this business.")
        return data


class BudgetChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # One query for the page's current windows, not one per row.
        spend = live_spend(list(self.result_list))
        for budget in self.result_list:
            budget.live = spend[budget.pk]


@admin.register(Budget)
class BudgetAdmin(ServiceAdmin):
    form = BudgetForm
    list_display = [
        "business",
        "scope",
        "model_or_all",
        "period",
        "limit_usd",
        "spent",
        "reserved",
        "remaining",
        "used",
        "enabled",
    ]
    list_filter = ["period", "enabled", "business"]
    search_fields = ["business__name", "business__slug", "model", "agent_id"]
    list_select_related = ["business"]
    autocomplete_fields = ["business"]
    fields = [
        "business",
        "agent_id",
        "model",
        "period",
        "limit_usd",
        "soft_limit_pct",
        "enabled",
        "window_now",
    ]

    def get_changelist(self, request, **kwargs):
        return BudgetChangeList

    def get_readonly_fields(self, request, obj=None):
        # The scope is the budget's identity: a different scope is a different budget.
        return ["business", "agent_id", "model", "period", "window_now"] if obj else ["window_now"]

    def _live(self, budget):
        if not hasattr(budget, "live"):
            budget.live = live_spend([budget])[budget.pk]
        return budget.live

    @admin.display(description="scope", ordering="agent_id")
    def scope(self, budget):
        return f"agent {budget.agent_id}" if budget.agent_id else "whole business"

    @admin.display(description="model", ordering="model")
    def model_or_all(self, budget):
        return budget.model or "all"

    @admin.display(description="spent (this window)")
    def spent(self, budget):
        return _dollars(self._live(budget).spent_usd)

    @admin.display(description="reserved")
    def reserved(self, budget):
        return _dollars(self._live(budget).reserved_usd)

    @admin.display(description="remaining")
    def remaining(self, budget):
        return _dollars(self._live(budget).remaining_usd)

    @admin.display(description="used")
    def used(self, budget):
        live = self._live(budget)
        colour = {"ok": "inherit", "soft_limit": "#b26a00", "exceeded": "#ba2121"}[live.state]
        return format_html('<span style="color:{}">{}%</span>', colour, live.used_pct)

    @admin.display(description="current window")
    def window_now(self, budget):
        if not budget.pk:
            return "-"
        live = self._live(budget)
        end = f" to {live.window_end:%Y-%m-%d %H:%M} UTC" if live.window_end else " (never ends)"
        projected = f"; projected {money(live.projected_usd)}" if live.projected_usd is not None else ""
        return (
            f"from {live.window_start:%Y-%m-%d %H:%M} UTC{end}: spent {money(live.spent_usd)}, reserved "
            f"{money(live.reserved_usd)}, remaining {money(live.remaining_usd)}{projected}"
        )

    def save_model(self, request, obj, form, change):
        # The API's services: the row lock, normalisation, budget_exists, audit and event.
        data = form.cleaned_data
        if change:
            editable = {name: data[name] for name in BUDGET_EDITABLE if name in data}
            saved = services.update_budget(budget=obj, actor=request.user, **editable)
        else:
            saved = services.create_budget(
                business=data["business"],
                actor=request.user,
                agent_id=data.get("agent_id"),
                model=data.get("model") or "",
                period=data["period"],
                limit_usd=data["limit_usd"],
                soft_limit_pct=data["soft_limit_pct"],
                enabled=data["enabled"],
            )
        obj.pk, obj.model, obj.updated_at = saved.pk, saved.model, saved.updated_at

    def delete_model(self, request, obj):
        services.delete_budget(budget=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for budget in queryset.select_related("business"):
                services.delete_budget(budget=budget, actor=request.user)


class PolicyForm(forms.ModelForm):
    class Meta:
        model = ExecutionPolicy
        fields = ["business", "agent_id", *policies.FIELDS]

    def clean_rate_limit(self):
        value = self.cleaned_data.get("rate_limit", "")
        if value and parse_rate(value) is None:
            raise ValidationError("Use <number>/<sec|min|hour|day>, e.g. 600/min.")
        return value

    def clean(self):
        data = super().clean()
        for name in ("allowed_triggers", "allowed_models", "allowed_providers"):
            value = data.get(name)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                self.add_error(name, 'A list of names, e.g. ["manual", "cron"].')
        return data


@admin.register(ExecutionPolicy)
class ExecutionPolicyAdmin(ServiceAdmin):
    form = PolicyForm
    list_display = [
        "business",
        "scope",
        "allowed_triggers",
        "allowed_models",
        "allowed_providers",
        "max_tokens_per_execution",
        "max_cost_per_execution_usd",
        "min_run_role",
        "rate_limit",
    ]
    list_filter = ["business", "min_run_role"]
    search_fields = ["business__name", "business__slug", "agent_id"]
    list_select_related = ["business"]
    autocomplete_fields = ["business"]

    @admin.display(description="scope", ordering="agent_id")
    def scope(self, policy):
        return f"agent {policy.agent_id}" if policy.agent_id else "every agent"

    def get_readonly_fields(self, request, obj=None):
        return ["business", "agent_id"] if obj else []

    def save_model(self, request, obj, form, change):
        # The API's services: the row lock, policy_exists, audit, event and the rate cache.
        fields = {name: form.cleaned_data[name] for name in policies.FIELDS if name in form.cleaned_data}
        if change:
            saved = policies.update_policy(policy=obj, actor=request.user, **fields)
        else:
            saved = policies.create_policy(
                business=form.cleaned_data["business"],
                agent_id=form.cleaned_data.get("agent_id"),
                actor=request.user,
                **fields,
            )
        obj.pk, obj.updated_at = saved.pk, saved.updated_at

    def delete_model(self, request, obj):
        policies.delete_policy(policy=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for policy in queryset.select_related("business"):
                policies.delete_policy(policy=policy, actor=request.user)


@admin.register(OperatorToken)
class OperatorTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "name", "prefix"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):
        return False  # tokens are issued through POST /api/v1/auth/token, shown once

    @admin.action(description="Revoke the selected tokens")
    def revoke_tokens(self, request, queryset):
        for token in queryset:
            services.revoke_operator_token(token=token)
        messages.success(request, f"Revoked {queryset.count()} token(s).")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Append-only: nothing here adds, changes or deletes an entry."""

    list_display = ["ts", "actor", "action", "business", "target_type", "target_id", "short_reason"]
    list_filter = ["business", "target_type", ("ts", admin.DateFieldListFilter)]
    search_fields = ["actor", "action", "target_id", "reason"]
    list_select_related = ["business"]
    date_hierarchy = None
    paginator = BoundedCountPaginator
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = [
        "ts",
        "actor",
        "action",
        "business",
        "target_type",
        "target_id",
        "before",
        "after",
        "reason",
    ]

    @admin.display(description="reason")
    def short_reason(self, entry):
        return (entry.reason[:80] + "…") if len(entry.reason) > 80 else entry.reason

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
