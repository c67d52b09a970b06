from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.utils.functional import cached_property

from mission_control import outbound
from mission_control.service_admin import ServiceAdmin
from observability import alerts
from observability.models import (
    Alert,
    AlertRule,
    Anomaly,
    DailyRollup,
    HourlyRollup,
    Notification,
    SourceRollup,
)


class EstimatedCountPaginator(Paginator):
    """Rollups grow without end: an unfiltered page takes PostgreSQL's row estimate, not COUNT(*)."""

    @cached_property
    def count(self):
        qs = self.object_list
        if connection.vendor == "postgresql" and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [qs.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > 10_000:
                return row[0]
        return super().count


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AlertRuleForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False, max_length=200, assume_scheme="https", validators=[outbound.public_url_validator]
    )

    class Meta:
        model = AlertRule
        fields = [
            "business",
            "name",
            "kind",
            "agent",
            "cron_job_id",
            "threshold",
            "window_minutes",
            "min_executions",
            "email_to",
            "webhook_url",
            "enabled",
        ]


@admin.register(AlertRule)
class AlertRuleAdmin(ServiceAdmin):
    form = AlertRuleForm
    list_display = [
        "name",
        "business",
        "kind",
        "agent",
        "threshold",
        "window_minutes",
        "enabled",
        "created_at",
    ]
    list_filter = ["kind", "enabled", "business"]
    list_select_related = ["business", "agent"]
    search_fields = ["name", "business__slug"]
    raw_id_fields = ["agent"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        # The API's services: the webhook's public-address check (SSRF) and the audit.
        fields = {name: form.cleaned_data[name] for name in alerts.RULE_FIELDS if name in form.cleaned_data}
        if change:
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            alerts.update_rule(rule=obj, actor=request.user, **changed)
        else:
            obj.pk = alerts.create_rule(
                business=form.cleaned_data["business"], actor=request.user, **fields
            ).pk

    def delete_model(self, request, obj):
        alerts.delete_rule(rule=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for rule in queryset.select_related("business"):
                alerts.delete_rule(rule=rule, actor=request.user)


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ["event", "channel", "target", "status", "attempts", "last_error", "created_at", "sent_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["fired_at", "rule", "business", "subject", "message", "resolved_at"]
    list_filter = ["rule__kind", "business", ("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["rule", "business"]
    search_fields = ["message", "subject", "rule__name"]
    date_hierarchy = "fired_at"
    inlines = [NotificationInline]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "alert", "event", "channel", "target", "status", "attempts"]
    list_filter = ["status", "channel", "event"]
    list_select_related = ["alert__rule"]
    search_fields = ["target", "text"]


@admin.register(Anomaly)
class AnomalyAdmin(ReadOnlyAdmin):
    list_display = ["hour", "agent", "business", "metric", "value", "baseline_median", "score", "detected_at"]
    list_filter = ["metric", "business"]
    list_select_related = ["agent", "business"]
    search_fields = ["agent__name", "reason"]


@admin.register(HourlyRollup)
class HourlyRollupAdmin(ReadOnlyAdmin):
    list_display = [
        "hour",
        "business",
        "agent",
        "model",
        "executions",
        "failed",
        "total_tokens",
        "cost_usd",
        "busy_ms",
    ]
    list_filter = ["business"]
    list_select_related = ["business", "agent"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(DailyRollup)
class DailyRollupAdmin(ReadOnlyAdmin):
    list_display = [
        "day",
        "business",
        "agent",
        "model",
        "executions",
        "failed",
        "total_tokens",
        "cost_usd",
        "busy_ms",
    ]
    list_filter = ["business"]
    list_select_related = ["business", "agent"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(SourceRollup)
class SourceRollupAdmin(ReadOnlyAdmin):
    list_display = ["hour", "business", "kind", "key", "executions", "failed", "duration_ms_max"]
    list_filter = ["kind", "business"]
    list_select_related = ["business"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
