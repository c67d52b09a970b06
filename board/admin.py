"""The admin for the task board. Saving a task goes through the board's services, as the API
does, so dependencies refuse cycles and edits are audited; comments and dependencies are read-only."""

from django.contrib import admin
from django.db import transaction

from board import services
from board.models import Epic, Task, TaskComment, TaskDependency
from governance.admin import BoundedCountPaginator
from mission_control.service_admin import ServiceAdmin


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CommentInline(ReadOnlyInline):
    model = TaskComment
    fields = ["kind", "author", "body", "created_at"]
    readonly_fields = fields


class BlockerInline(ReadOnlyInline):
    model = TaskDependency
    fk_name = "blocked"
    verbose_name_plural = "blocked by (edit through the API: cycles are refused there)"
    fields = ["blocker", "created_at"]
    readonly_fields = fields


@admin.register(Epic)
class EpicAdmin(ServiceAdmin):
    list_display = ["title", "business", "status", "created_at"]
    list_filter = ["business", "status"]
    search_fields = ["title", "description"]
    list_select_related = ["business"]
    fields = ["business", "title", "description", "status"]

    def get_readonly_fields(self, request, obj=None):
        return ["business"] if obj else []

    def save_model(self, request, obj, form, change):
        # The API's services: the epic.* events, and the audit of a deletion.
        fields = {name: form.cleaned_data[name] for name in ("title", "description", "status")}
        if change:
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            services.update_epic(epic=obj, actor=request.user, **changed)
        else:
            obj.pk = services.create_epic(
                business=form.cleaned_data["business"], actor=request.user, **fields
            ).pk

    def delete_model(self, request, obj):
        services.delete_epic(epic=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for epic in queryset.select_related("business"):
                services.delete_epic(epic=epic, actor=request.user)


@admin.register(Task)
class TaskAdmin(ServiceAdmin):
    list_display = [
        "title",
        "business",
        "epic",
        "status",
        "priority",
        "assignee",
        "claimed_at",
        "completed_at",
    ]
    list_filter = ["business", "status", "priority"]
    search_fields = ["title", "description"]
    list_select_related = ["business", "epic", "assignee"]
    raw_id_fields = ["epic", "parent", "assignee"]
    inlines = [BlockerInline, CommentInline]
    readonly_fields = ["claimed_at", "completed_at", "created_by", "created_at", "updated_at"]
    fields = ["business", "epic", "parent", "title", "description", "status", "priority", "assignee"]
    fields += ["required_capabilities", "result", *readonly_fields]

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.TASK_FIELDS if name in form.cleaned_data}
        # A refusal (a cycle, a task of another business) shows on the form (ServiceAdmin).
        if change:
            changed = {name: fields[name] for name in form.changed_data if name in fields}
            services.update_task(task=obj, actor=request.user, **changed)
        else:
            created = services.create_task(
                business=form.cleaned_data["business"], actor=request.user, **fields
            )
            obj.pk = created.pk


@admin.register(TaskComment)
class TaskCommentAdmin(admin.ModelAdmin):
    list_display = ["task", "kind", "author", "created_at"]
    list_filter = ["kind"]
    search_fields = ["body", "author"]
    list_select_related = ["task"]
    paginator = BoundedCountPaginator
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TaskDependency)
class TaskDependencyAdmin(admin.ModelAdmin):
    """Read-only: dependencies are edited through the API (or the board), where cycles are refused."""

    list_display = ["blocker", "blocked", "created_at"]
    list_select_related = ["blocker", "blocked"]
    search_fields = ["blocker__title", "blocked__title"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
