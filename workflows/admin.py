"""The admin for cron jobs and workflows. Saving goes through the same services as the
API, so a cron job's beat entry stays in step, definitions are validated and edits are audited."""

import copy

from django import forms
from django.contrib import admin, messages

from governance.admin import BoundedCountPaginator
from mission_control.errors import DomainError
from workflows import cron, cron_firing, definitions, runs
from workflows.models import (
    CronJob,
    CronRun,
    StepRun,
    Workflow,
    WorkflowRun,
    WorkflowVersion,
)


def _apply_each(model_admin, request, queryset, verb, noun: str, done: str) -> None:
    """Run a service on each selected row (``verb(<noun>=row, actor=...)``), reporting refusals one by one."""
    count = 0
    for obj in queryset:
        try:
            verb(**{noun: obj}, actor=request.user)
            count += 1
        except DomainError as exc:
            _report(model_admin, request, exc, obj)
    if count:
        model_admin.message_user(request, f"{done} {count} {noun}(s).")


def _report(model_admin, request, exc: DomainError, obj) -> None:
    model_admin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- cron -------------------------------------------------------------------------------------
class CronJobForm(forms.ModelForm):
    class Meta:
        model = CronJob
        fields = ["business", *cron.EDITABLE]

    def clean(self):
        data = super().clean()
        job = copy.copy(self.instance)  # on a change the business is read-only, so not in ``data``
        for name, value in data.items():
            if name in self.Meta.fields:
                setattr(job, name, value)
        try:
            cron.validate(job)
        except DomainError as exc:
            for field, problems in (exc.extra.get("fields") or {"name": [str(exc.detail)]}).items():
                self.add_error(field if field in self.fields else None, problems)
        return data


@admin.register(CronJob)
class CronJobAdmin(admin.ModelAdmin):
    form = CronJobForm
    list_display = ["name", "business", "schedule", "timezone", "target", "enabled", "held_by_stop"]
    list_display += ["next_run", "last_run_at", "last_status", "success", "consecutive_failures", "avg_ms"]
    list_filter = ["business", "enabled", "held_by_stop", "last_status", "overlap"]
    search_fields = ["name", "description", "schedule", "business__slug"]
    list_select_related = ["business", "agent", "workflow"]
    raw_id_fields = ["agent", "workflow"]
    actions = ["run_now", "pause", "resume"]
    readonly_fields = ["held_by_stop", "periodic_task", "active_since", "last_run_at", "last_status"]
    readonly_fields += ["runs_finished", "runs_succeeded", "consecutive_failures", "success", "avg_ms"]
    readonly_fields += ["next_run", "created_by", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*(["business"] if obj else []), *self.readonly_fields]

    @admin.display(description="target")
    def target(self, job):
        return f"agent {job.agent}" if job.agent_id else f"workflow {job.workflow}"

    @admin.display(description="next run (UTC)")
    def next_run(self, job):
        return job.next_run_at()

    @admin.display(description="success rate")
    def success(self, job):
        return "—" if job.success_rate is None else f"{job.success_rate:.0%}"

    @admin.display(description="avg duration (ms)")
    def avg_ms(self, job):
        return job.avg_duration_ms

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in cron.EDITABLE if name in form.cleaned_data}
        if change:
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            cron.update_job(job=obj, actor=request.user, **changed)
        else:
            created = cron.create_job(business=form.cleaned_data["business"], actor=request.user, **fields)
            obj.pk = created.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        cron.delete_job(job=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            cron.delete_job(job=job, actor=request.user)

    def _each(self, request, queryset, verb, done: str):
        _apply_each(self, request, queryset, verb, "job", done)

    @admin.action(description="Run selected jobs now", permissions=["change"])
    def run_now(self, request, queryset):
        self._each(request, queryset, cron_firing.run_now, "Started")

    @admin.action(description="Pause selected jobs", permissions=["change"])
    def pause(self, request, queryset):
        self._each(request, queryset, cron.pause_job, "Paused")

    @admin.action(description="Resume selected jobs", permissions=["change"])
    def resume(self, request, queryset):
        self._each(request, queryset, cron.resume_job, "Resumed")


@admin.register(CronRun)
class CronRunAdmin(admin.ModelAdmin):
    list_display = ["cron_job", "scheduled_for", "manual", "status", "reason", "execution", "workflow_run"]
    list_display += ["started_at", "duration_ms"]
    list_filter = ["status", "manual", "cron_job__business"]
    search_fields = ["cron_job__name", "reason", "detail"]
    list_select_related = ["cron_job"]
    date_hierarchy = "scheduled_for"
    paginator = BoundedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- workflows --------------------------------------------------------------------------------
class VersionInline(ReadOnlyInline):
    model = WorkflowVersion
    fields = ["number", "created_by", "created_at"]
    readonly_fields = fields


class WorkflowForm(forms.ModelForm):
    definition = forms.JSONField(help_text='{"steps": [...]}; saving a changed one makes a new version.')

    class Meta:
        model = Workflow
        fields = ["business", "name", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["definition"].initial = self.instance.definition

    def clean(self):
        data = super().clean()
        business = data.get("business") or getattr(self.instance, "business", None)
        if business is not None and "definition" in data:
            try:
                data["definition"] = definitions.validate_definition(data["definition"], business=business)
            except DomainError as exc:
                self.add_error("definition", str(exc.detail))
        return data


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    form = WorkflowForm
    list_display = ["name", "business", "version", "webhook_token_prefix", "updated_at"]
    list_filter = ["business"]
    search_fields = ["name", "description"]
    list_select_related = ["business", "current_version"]
    inlines = [VersionInline]
    readonly_fields = ["webhook_token_prefix", "created_by", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*(["business"] if obj else []), *self.readonly_fields]

    @admin.display(description="version")
    def version(self, workflow):
        return workflow.current_version.number if workflow.current_version_id else None

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            definitions.update_workflow(
                workflow=obj,
                actor=request.user,
                definition=data["definition"],
                name=data["name"],
                description=data.get("description", ""),
            )
        else:
            created = definitions.create_workflow(
                business=data["business"],
                name=data["name"],
                description=data.get("description", ""),
                definition=data["definition"],
                actor=request.user,
            )
            obj.pk = created.pk
        obj.refresh_from_db()


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "created_by", "created_at"]
    list_select_related = ["workflow"]
    readonly_fields = ["workflow", "number", "definition", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StepRunInline(ReadOnlyInline):
    model = StepRun
    fields = ["step_id", "status", "attempt", "execution", "agent_id", "error", "started_at", "finished_at"]
    readonly_fields = fields


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "workflow",
        "version",
        "status",
        "trigger",
        "requested_by",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "trigger", "business"]
    search_fields = ["workflow__name", "error"]
    list_select_related = ["workflow", "version"]
    inlines = [StepRunInline]
    actions = ["cancel", "rerun"]
    paginator = BoundedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, verb, done: str):
        _apply_each(self, request, queryset, verb, "run", done)

    def has_control_permission(self, request) -> bool:
        return request.user.has_perm("workflows.change_workflowrun")

    @admin.action(description="Cancel selected runs", permissions=["control"])
    def cancel(self, request, queryset):
        self._each(request, queryset, runs.cancel_run, "Cancelled")

    @admin.action(description="Re-run selected runs from their failed steps", permissions=["control"])
    def rerun(self, request, queryset):
        self._each(request, queryset, runs.rerun, "Re-ran")


@admin.register(StepRun)
class StepRunAdmin(admin.ModelAdmin):
    list_display = [
        "run",
        "step_id",
        "status",
        "attempt",
        "execution",
        "agent_id",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "reused"]
    search_fields = ["step_id", "error"]
    list_select_related = ["run"]
    paginator = BoundedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
