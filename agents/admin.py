"""The admin for agents: what an admin decides on at a glance, and the same services the API uses.

Desired state and scale change only through the actions (they queue commands and are audited);
keys are issued by an action that shows the raw key once, in the response, and never stores it.
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from agents import services
from agents.models import Agent, AgentCommand, AgentKey
from mission_control import outbound
from mission_control.errors import DomainError


class PresenceFilter(admin.SimpleListFilter):
    title = "presence"
    parameter_name = "presence"

    def lookups(self, request, model_admin):
        return [("online", "Online"), ("offline", "Offline")]

    def queryset(self, request, queryset):
        if self.value() == "online":
            return queryset.online(timezone.now())
        if self.value() == "offline":
            return queryset.offline(timezone.now())
        return queryset


class AgentForm(forms.ModelForm):
    endpoint_url = forms.URLField(
        required=False, max_length=200, assume_scheme="https", validators=[outbound.public_url_validator]
    )

    class Meta:
        model = Agent
        fields = [
            "business",
            "name",
            "mode",
            "endpoint_url",
            "capabilities",
            "notes",
            "scale",
            "min_scale",
            "max_scale",
            "heartbeat_timeout_s",
            "max_cost_per_execution_usd",
        ]

    def clean(self):
        data = super().clean()
        if data.get("mode") == "push" and not data.get("endpoint_url"):
            self.add_error("endpoint_url", "Required for push agents.")
        return data


class AgentKeyInline(admin.TabularInline):
    model = AgentKey
    extra = 0
    can_delete = False
    fields = ["prefix", "name", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    ordering = ["-id"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are issued by the "Issue a new key" action, which shows the raw key once


class PendingCommandInline(admin.TabularInline):
    model = AgentCommand
    verbose_name_plural = "pending commands"
    extra = 0
    can_delete = False
    fields = ["type", "args", "requested_by", "created_at", "delivered_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(acknowledged_at__isnull=True)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentForm
    list_display = [
        "name",
        "business",
        "presence",
        "desired_state",
        "lifecycle",
        "mode",
        "version",
        "runtime_location",
        "last_heartbeat",
        "scale",
    ]
    list_filter = [PresenceFilter, "business", "desired_state", "status", "mode", "held_by_emergency_stop"]
    search_fields = ["name", "business__name", "business__slug", "version", "runtime_location", "notes"]
    list_select_related = ["business"]
    ordering = ["business__name", "name"]
    inlines = [PendingCommandInline, AgentKeyInline]
    actions = ["start_agents", "stop_agents", "restart_agents", "issue_keys"]
    fieldsets = [
        (None, {"fields": ["business", "name", "mode", "endpoint_url", "capabilities", "notes"]}),
        (
            "Scale and limits",
            {
                "fields": [
                    "scale",
                    "min_scale",
                    "max_scale",
                    "heartbeat_timeout_s",
                    "max_cost_per_execution_usd",
                ]
            },
        ),
        (
            "Observed",
            {
                "fields": [
                    "desired_state",
                    "status",
                    "version",
                    "runtime_location",
                    "last_heartbeat",
                    "offline_since",
                    "running_executions",
                    "held_by_emergency_stop",
                    "created_at",
                ]
            },
        ),
    ]
    readonly_fields = [
        "desired_state",
        "status",
        "version",
        "runtime_location",
        "last_heartbeat",
        "offline_since",
        "running_executions",
        "held_by_emergency_stop",
        "created_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["business", "scale"] if obj is not None else []  # scale moves by a command
        return [*fixed, *self.readonly_fields]

    def get_queryset(self, request):
        # The status every page shows, in the list's one query (no count per row).
        return super().get_queryset(request).with_live_status(timezone.now())

    @admin.display(description="status")
    def presence(self, agent):
        return agent.effective_status()

    @admin.display(description="lifecycle")
    def lifecycle(self, agent):
        return agent.lifecycle_label()

    def save_model(self, request, obj, form, change):
        # The same services as the API, so edits are audited and published alike.
        if not change:
            fields = {
                name: form.cleaned_data[name]
                for name in services.EDITABLE_FIELDS
                if name in form.cleaned_data
            }
            fields.pop("name", None)
            fields["scale"] = form.cleaned_data.get("scale", obj.scale)
            created = services.create_agent(
                business=form.cleaned_data["business"], name=obj.name, actor=request.user, **fields
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        changed = {
            name: form.cleaned_data[name] for name in form.changed_data if name in services.EDITABLE_FIELDS
        }
        services.update_agent(agent=obj, actor=request.user, **changed)

    def _each(self, request, queryset, action: str, done: str):
        count = 0
        for agent in queryset:
            try:
                getattr(services, f"{action}_agent")(agent=agent, actor=request.user)
                count += 1
            except DomainError as exc:
                self.message_user(request, f"{agent}: {exc.detail}", messages.ERROR)
        if count:
            self.message_user(request, f"{done} {count} agent(s); they act on their next heartbeat.")

    @admin.action(description="Start selected agents", permissions=["change"])
    def start_agents(self, request, queryset):
        self._each(request, queryset, "start", "Start queued for")

    @admin.action(description="Stop selected agents", permissions=["change"])
    def stop_agents(self, request, queryset):
        self._each(request, queryset, "stop", "Stop queued for")

    @admin.action(description="Restart selected agents", permissions=["change"])
    def restart_agents(self, request, queryset):
        self._each(request, queryset, "restart", "Restart queued for")

    @admin.action(description="Issue a new key (shown once)", permissions=["change"])
    def issue_keys(self, request, queryset):
        issued = []
        for agent in queryset.select_related("business"):
            key, raw = services.issue_key(
                agent=agent, name=f"admin:{request.user.get_username()}", actor=request.user
            )
            issued.append({"agent": agent, "key": key, "raw": raw})
        context = {
            **self.admin_site.each_context(request),
            "title": "New agent keys",
            "issued": issued,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/agents/agent/issued_keys.html", context)
        response["Cache-Control"] = "no-store"  # the raw key must not linger in any cache
        return response


@admin.register(AgentKey)
class AgentKeyAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "agent",
        "name",
        "active",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "agent__business"]
    search_fields = ["prefix", "name", "agent__name"]
    list_select_related = ["agent", "agent__business", "created_by"]
    readonly_fields = ["agent", "prefix", "name", "created_by", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke_keys"]

    @admin.display(boolean=True)
    def active(self, key):
        return key.revoked_at is None

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row records who used the key and when

    @admin.action(description="Revoke selected keys now", permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = sum(
            services.revoke_key(key=key, actor=request.user)
            for key in queryset.select_related("agent__business")
        )
        self.message_user(request, f"Revoked {revoked} key(s); requests with them now get 401.")


@admin.register(AgentCommand)
class AgentCommandAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "agent",
        "type",
        "args",
        "requested_by",
        "created_at",
        "delivered_at",
        "acknowledged_at",
    ]
    list_filter = ["type", ("acknowledged_at", admin.EmptyFieldListFilter), "agent__business"]
    search_fields = ["agent__name", "requested_by"]
    list_select_related = ["agent"]
    readonly_fields = [f.name for f in AgentCommand._meta.fields]

    def has_add_permission(self, request):
        return False  # commands come from the lifecycle actions and the API

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
