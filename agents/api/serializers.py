from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Agent, AgentCommand, AgentKey, AgentMode, ReportedStatus
from mission_control.api.serializers import StrictSerializer

EFFECTIVE_STATUSES = [*ReportedStatus.values, "offline"]
LIFECYCLES = ["running", "stopping", "stopped", "offline"]
Capabilities = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50)


class AgentSerializer(serializers.ModelSerializer):
    """An agent as people see it: desired state and observed status side by side."""

    business = serializers.CharField(source="business.slug", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="Effective: offline when no heartbeat in time, blocked as reported, else active while "
        "the ledger has work of it running, idle when none."
    )
    reported_status = serializers.CharField(source="status", read_only=True)
    lifecycle = serializers.SerializerMethodField(
        help_text="Desired state beside observed status, e.g. stopping: told to stop, still busy."
    )
    running = serializers.ListField(
        source="running_executions", child=serializers.IntegerField(), read_only=True
    )
    running_now = serializers.SerializerMethodField(help_text="Executions the ledger has running for it.")
    pending_commands = serializers.SerializerMethodField()

    class Meta:
        model = Agent
        fields = [
            "id",
            "business",
            "name",
            "capabilities",
            "mode",
            "endpoint_url",
            "status",
            "reported_status",
            "desired_state",
            "lifecycle",
            "last_heartbeat",
            "offline_since",
            "version",
            "runtime_location",
            "scale",
            "min_scale",
            "max_scale",
            "heartbeat_timeout_s",
            "max_cost_per_execution_usd",
            "notes",
            "running",
            "running_now",
            "pending_commands",
            "held_by_emergency_stop",
            "created_at",
        ]
        read_only_fields = fields

    def _now(self):
        if "now" not in self.context:
            self.context["now"] = timezone.now()
        return self.context["now"]

    @extend_schema_field(serializers.ChoiceField(choices=EFFECTIVE_STATUSES))
    def get_status(self, agent) -> str:
        return agent.effective_status(self._now())

    @extend_schema_field(serializers.ChoiceField(choices=LIFECYCLES))
    def get_lifecycle(self, agent) -> str:
        return agent.lifecycle_label(self._now())

    def get_running_now(self, agent) -> int:
        return agent.running_count()

    def get_pending_commands(self, agent) -> int:
        pending = getattr(agent, "pending_commands", None)
        return pending if pending is not None else agent.commands.filter(acknowledged_at__isnull=True).count()


class _AgentFields(StrictSerializer):
    name = serializers.CharField(max_length=120)
    capabilities = Capabilities
    mode = serializers.ChoiceField(choices=AgentMode.choices)
    endpoint_url = serializers.URLField(allow_blank=True, max_length=200)
    min_scale = serializers.IntegerField(min_value=0, max_value=10_000)
    max_scale = serializers.IntegerField(min_value=0, max_value=10_000)
    heartbeat_timeout_s = serializers.IntegerField(min_value=5, max_value=86_400)
    max_cost_per_execution_usd = serializers.DecimalField(
        max_digits=14, decimal_places=6, min_value=Decimal(0), allow_null=True
    )
    notes = serializers.CharField(allow_blank=True, max_length=10_000)


class AgentCreateSerializer(_AgentFields):
    business = serializers.SlugField(help_text="The business's slug.")
    scale = serializers.IntegerField(min_value=0, max_value=10_000, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name not in ("business", "name"):
                field.required = False


class AgentUpdateSerializer(_AgentFields):
    """PATCH: any subset. Desired state and scale change through start/stop/restart/scale."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class ScaleSerializer(StrictSerializer):
    replicas = serializers.IntegerField(min_value=0, max_value=10_000)


class CommandSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentCommand
        fields = ["id", "type", "args", "requested_by", "created_at", "delivered_at", "acknowledged_at"]
        read_only_fields = fields


class LifecycleSerializer(serializers.Serializer):
    agent = AgentSerializer()
    command = CommandSerializer()


class KeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")


class KeySerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = AgentKey
        fields = ["id", "name", "prefix", "active", "created_by", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields

    def get_active(self, key) -> bool:
        return key.revoked_at is None


class KeyIssuedSerializer(KeySerializer):
    key = serializers.SerializerMethodField(help_text="The raw key: shown in this answer only, never again.")

    class Meta(KeySerializer.Meta):
        fields = ["key", *KeySerializer.Meta.fields]

    def get_key(self, key) -> str:
        return self.context["raw"]


class HeartbeatSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=ReportedStatus.choices)
    version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    runtime_location = serializers.CharField(max_length=200, required=False, allow_blank=True)
    capabilities = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=50, required=False
    )
    running = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=1000, required=False
    )


class HeartbeatAnswerSerializer(serializers.Serializer):
    desired_state = serializers.ChoiceField(choices=["running", "stopped"])
    scale = serializers.IntegerField()
    commands = serializers.ListField(
        child=serializers.DictField(), help_text='[{"id", "type", "args", "created_at"}]'
    )
    emergency_stop = serializers.BooleanField()
    budget_exhausted = serializers.BooleanField()
    heartbeat_interval_s = serializers.IntegerField(help_text="How often to beat.")
    server_time = serializers.DateTimeField()
