"""The ledger in the admin: read-only (history is append-only), cheap to page through millions of
rows, with abort and replay going through the same services (and audit) as the API."""

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from executions import services
from executions.models import AgentRunSettings, CostCorrection, Execution, ExecutionLog
from mission_control.errors import DomainError
from mission_control.service_admin import ServiceAdmin

RUN_SETTINGS = ("timeout_s", "heartbeat_timeout_s", "retry_policy")

LOG_PREVIEW = 20


class LookaheadPaginator(Paginator):
    """Never counts the whole table: it looks (ids only) one page beyond the page asked for, so
    a page of the newest rows costs the same with a thousand rows as with a hundred million."""

    page_hint = 1

    @cached_property
    def count(self) -> int:
        limit = (self.page_hint + 1) * self.per_page + 1
        return self.object_list.order_by().values("pk")[:limit].count()


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Execution)
class ExecutionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "trigger",
        "business",
        "agent",
        "model",
        "cost_usd",
        "cost_source",
        "duration_ms",
        "created_at",
    ]
    list_filter = ["status", "trigger", "cost_source", "business", "created_at"]
    list_select_related = ["business", "agent"]
    search_fields = ["=id", "=external_id", "agent__name", "model", "=session_id"]
    show_full_result_count = False
    paginator = LookaheadPaginator
    actions = ["abort_selected", "replay_selected"]
    readonly_fields = ["log_preview", "links"]

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        try:
            paginator.page_hint = max(1, int(request.GET.get("p", 1)))
        except ValueError:
            paginator.page_hint = 1
        return paginator

    def get_fields(self, request, obj=None):
        return [f.name for f in Execution._meta.fields] + ["links", "log_preview"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="related")
    def links(self, obj):
        parts = []
        for label, target in (("replay of", obj.replay_of_id), ("retry of", obj.retry_of_id)):
            if target:
                url = reverse("admin:executions_execution_change", args=[target])
                parts.append(format_html('{} <a href="{}">#{}</a>', label, url, target))
        parts.append(format_html('<a href="{}">logs (API)</a>', reverse("execution-logs", args=[obj.pk])))
        return format_html_join(" · ", "{}", ((p,) for p in parts))

    @admin.display(description=f"first {LOG_PREVIEW} log entries")
    def log_preview(self, obj):
        rows = ExecutionLog.objects.filter(execution=obj).order_by("seq")[:LOG_PREVIEW]
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((r.seq, r.level, r.kind, r.message[:300]) for r in rows),
            ),
        )

    @admin.action(description="Abort the selected executions")
    def abort_selected(self, request, queryset):
        self._each(request, queryset, lambda e: services.abort_execution(execution=e, actor=request.user))

    @admin.action(description="Replay the selected (failed or aborted) executions")
    def replay_selected(self, request, queryset):
        self._each(request, queryset, lambda e: services.replay_execution(execution=e, actor=request.user))

    def _each(self, request, queryset, act):
        done = 0
        for execution in queryset.select_related("agent", "business")[:500]:
            try:
                act(execution)
                done += 1
            except DomainError as refused:
                self.message_user(request, f"#{execution.pk}: {refused.detail}", messages.WARNING)
        self.message_user(request, f"{done} execution(s) done.", messages.SUCCESS)


@admin.register(CostCorrection)
class CostCorrectionAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["execution", "cost_usd", "cost_source", "price_data_version", "created_at"]
    list_filter = ["cost_source"]
    raw_id_fields = ["execution"]
    search_fields = ["=execution__id"]
    paginator = LookaheadPaginator
    show_full_result_count = False


@admin.register(AgentRunSettings)
class AgentRunSettingsAdmin(ServiceAdmin):
    list_display = ["agent", "timeout_s", "heartbeat_timeout_s", "retry_policy", "hook_token_prefix"]
    list_select_related = ["agent", "agent__business"]
    search_fields = ["agent__name", "agent__business__slug"]
    raw_id_fields = ["agent"]
    fields = [
        "agent",
        "timeout_s",
        "heartbeat_timeout_s",
        "retry_policy",
        "hook_token_prefix",
        "hook_rotated_at",
    ]
    readonly_fields = ["hook_token_prefix", "hook_rotated_at"]
    actions = ["rotate_webhook", "rotate_signing_secret"]

    def get_readonly_fields(self, request, obj=None):
        return ["agent", *self.readonly_fields] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # configure_runs, as the API: the retry policy validated and completed, the change audited.
        agent = obj.agent if change else form.cleaned_data["agent"]
        values = {name: form.cleaned_data[name] for name in RUN_SETTINGS if name in form.cleaned_data}
        obj.pk = services.configure_runs(agent=agent, actor=request.user, **values).pk

    @admin.action(description="Rotate the webhook URL (shown once)")
    def rotate_webhook(self, request, queryset):
        for row in queryset.select_related("agent", "agent__business"):
            token = services.rotate_hook(agent=row.agent, actor=request.user)
            url = request.build_absolute_uri(reverse("execution-hook", kwargs={"token": token}))
            self.message_user(request, f"{row.agent}: new webhook URL (copy it now): {url}", messages.WARNING)

    @admin.action(description="Rotate the push signing secret")
    def rotate_signing_secret(self, request, queryset):
        for row in queryset.select_related("agent", "agent__business"):
            services.rotate_signing_secret(agent=row.agent, actor=request.user)
        self.message_user(
            request, "Signing secrets rotated: give the agents their new secret.", messages.WARNING
        )
