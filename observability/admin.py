from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from mission_control import outbound
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
class AlertRuleAdmin(admin.ModelAdmin):
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
