from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from autoscaling import services
from autoscaling.models import AutoscaleDecision, AutoscalePolicy
from mission_control.errors import DomainError


class PolicyForm(forms.ModelForm):
    class Meta:
        model = AutoscalePolicy
        fields = ["agent", *services.POLICY_FIELDS]

    def clean(self):
        cleaned = super().clean()
        agent = cleaned.get("agent") or getattr(self.instance, "agent", None)
        if agent is not None and not self.errors:
            probe = AutoscalePolicy(agent=agent, **{n: cleaned.get(n) for n in services.POLICY_FIELDS})
            try:
                services.check_policy(probe, agent)  # the service's own rule, shown on the field
            except DomainError as exc:
                for field, messages in exc.extra.get("fields", {}).items():
                    self.add_error(field if field in self.fields else None, messages)
        return cleaned


@admin.register(AutoscalePolicy)
class AutoscalePolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = [
        "agent",
        "enabled",
        "min_replicas",
        "max_replicas",
        "target_pending_per_replica",
        "target_wait_s",
        "cooldown_s",
        "updated_by",
        "updated_at",
    ]
    list_filter = ["enabled", "agent__business"]
    list_select_related = ["agent", "agent__business"]
    search_fields = ["agent__name", "agent__business__slug"]
    raw_id_fields = ["agent"]
    readonly_fields = ["updated_by", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["agent", *self.readonly_fields] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # Through the service, so an admin's change is audited and published like the API's.
        names = (
            services.POLICY_FIELDS
            if not change
            else [n for n in form.changed_data if n in services.POLICY_FIELDS]
        )
        saved = services.save_policy(
            agent=form.cleaned_data.get("agent") or obj.agent,
            actor=request.user,
            **{name: form.cleaned_data[name] for name in names},
        )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        return False  # disable it instead: its decisions stay explained


class BoundedCountPaginator(Paginator):
    """A decision per agent per period grows without end: count at most 10,000 rows."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[:10_000].count()


@admin.register(AutoscaleDecision)
class AutoscaleDecisionAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "agent",
        "action",
        "replicas_before",
        "replicas_after",
        "pending",
        "running",
        "reason",
    ]
    list_filter = ["action", "refusal", "business"]
    list_select_related = ["agent"]
    search_fields = ["agent__name", "reason"]
    paginator = BoundedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
