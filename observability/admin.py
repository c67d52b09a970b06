from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from observability.models import Alert, AlertRule, Anomaly, HourlyRollup, Notification, SourceRollup


class NoCountPaginator(Paginator):
    """Rollups grow without end: never COUNT(*) them for a page of the admin."""

    @cached_property
    def count(self):
        return 10**9


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
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
    paginator = NoCountPaginator
    show_full_result_count = False


@admin.register(SourceRollup)
class SourceRollupAdmin(ReadOnlyAdmin):
    list_display = ["hour", "business", "kind", "key", "executions", "failed", "duration_ms_max"]
    list_filter = ["kind", "business"]
    list_select_related = ["business"]
    paginator = NoCountPaginator
    show_full_result_count = False
