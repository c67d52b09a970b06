"""Shapes of the ledger API: what agents report, what everyone reads."""

import functools
import hashlib
from decimal import Decimal

from rest_framework import serializers

from executions.logs import MAX_ENTRIES
from executions.models import Execution, ExecutionLog, LogKind, LogLevel, Status, Trigger
from mission_control import json_text
from mission_control.api.serializers import StrictSerializer

REPORTABLE_STATUSES = [Status.RUNNING, Status.SUCCESS, Status.FAILED, Status.ABORTED]
MAX_COST = Decimal("1000000000")


def body_hash(item) -> str:
    """A stable digest of a report body: the idempotency check compares these."""
    return hashlib.sha256(json_text.canonical(item).encode()).hexdigest()


class LogEntrySerializer(StrictSerializer):
    ts = serializers.DateTimeField(required=False)
    level = serializers.ChoiceField(choices=LogLevel.choices, default=LogLevel.INFO)
    kind = serializers.ChoiceField(choices=LogKind.choices, default=LogKind.LOG)
    message = serializers.CharField(allow_blank=True, trim_whitespace=False, default="")
    data = serializers.JSONField(required=False, allow_null=True)
    client_id = serializers.CharField(
        required=False,
        max_length=64,
        help_text="The agent's id for this entry (e.g. a UUID): an entry whose client_id this execution "
        "already has is not appended again, so a retried append never duplicates. The SDK sets one.",
    )


def log_entries(**kwargs) -> serializers.ListSerializer:
    return LogEntrySerializer(many=True, max_length=MAX_ENTRIES, allow_empty=False, **kwargs)


# Far beyond any real execution, and small enough that sums over millions of rows fit a bigint.
MAX_TOKENS = 10**12
MAX_DURATION_MS = 10**12  # about 31 years


class _UsageFields(StrictSerializer):
    """What reports and updates share: usage, outcome and timing."""

    output = serializers.JSONField(required=False, allow_null=True)
    prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    error = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    error_type = serializers.CharField(required=False, allow_blank=True, max_length=80)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    duration_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_DURATION_MS
    )
    model = serializers.CharField(required=False, allow_blank=True, max_length=120)
    model_provider = serializers.CharField(required=False, allow_blank=True, max_length=60)
    input_tokens = serializers.IntegerField(required=False, min_value=0, max_value=MAX_TOKENS)
    output_tokens = serializers.IntegerField(required=False, min_value=0, max_value=MAX_TOKENS)
    cache_read_tokens = serializers.IntegerField(required=False, min_value=0, max_value=MAX_TOKENS)
    total_tokens = serializers.IntegerField(required=False, min_value=0, max_value=MAX_TOKENS)
    cost_usd = serializers.DecimalField(
        required=False,
        allow_null=True,
        max_digits=None,
        decimal_places=None,
        min_value=Decimal(0),
        max_value=MAX_COST,
    )
    session_key = serializers.CharField(required=False, allow_blank=True, max_length=200)
    session_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    logs = log_entries(required=False)

    def validate(self, attrs):
        cache, given = attrs.get("cache_read_tokens"), attrs.get("input_tokens")
        if cache is not None and given is not None and cache > given:
            raise serializers.ValidationError(
                {"cache_read_tokens": ["Cache reads are part of input tokens and cannot exceed them."]}
            )
        started, finished = attrs.get("started_at"), attrs.get("finished_at")
        if started and finished and finished < started:
            raise serializers.ValidationError({"finished_at": ["Cannot be before started_at."]})
        return attrs


class ReportSerializer(_UsageFields):
    """An agent's report of its own work (``POST /api/v1/executions/``)."""

    external_id = serializers.CharField(required=False, allow_null=True, max_length=200)
    trigger = serializers.ChoiceField(choices=Trigger.choices, default=Trigger.AUTONOMOUS)
    status = serializers.ChoiceField(choices=REPORTABLE_STATUSES, default=Status.RUNNING)
    input = serializers.JSONField(required=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "cache_read_tokens" in attrs and "input_tokens" not in attrs and attrs["cache_read_tokens"]:
            raise serializers.ValidationError(
                {"cache_read_tokens": ["Cache reads are part of input tokens and cannot exceed them."]}
            )
        return attrs


class UpdateSerializer(_UsageFields):
    """``PATCH /api/v1/executions/{id}/``: move a live execution on."""

    status = serializers.ChoiceField(choices=Status.choices, required=False)


class BatchSerializer(StrictSerializer):
    executions = serializers.ListField(child=serializers.DictField(), allow_empty=False)


class ClaimSerializer(StrictSerializer):
    wait_seconds = serializers.FloatField(required=False, default=0, min_value=0, max_value=30)
    claim_id = serializers.CharField(
        required=False,
        max_length=64,
        help_text="The agent's id for this claim (e.g. a UUID): a retried claim with the same claim_id "
        "answers the execution the first attempt took (whatever its status now) instead of taking "
        "another. The SDK sets one per call.",
    )


class RunSettingsSerializer(StrictSerializer):
    timeout_s = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    heartbeat_timeout_s = serializers.IntegerField(required=False, allow_null=True, min_value=5)
    retry_policy = serializers.JSONField(required=False, allow_null=True)


class ExecutionSerializer(serializers.ModelSerializer):
    """The contract's fields of a ledger row. ``cost_usd`` is the effective cost (a later
    correction, if any, over the row's own)."""

    business = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agent = serializers.IntegerField(source="agent_id", read_only=True)
    replay_of = serializers.IntegerField(source="replay_of_id", read_only=True)
    retry_of = serializers.IntegerField(source="retry_of_id", read_only=True)
    cron_job = serializers.IntegerField(source="cron_job_id", read_only=True)
    workflow_run = serializers.IntegerField(source="workflow_run_id", read_only=True)
    cost_usd = serializers.SerializerMethodField()
    cost_source = serializers.SerializerMethodField()
    cost_corrected = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = [
            "id",
            "business",
            "agent",
            "trigger",
            "status",
            "external_id",
            "input",
            "output",
            "prompt",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "model",
            "model_provider",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "total_tokens",
            "cost_usd",
            "cost_source",
            "cost_corrected",
            "price_data_version",
            "error",
            "error_type",
            "session_key",
            "session_id",
            "retry_count",
            "attempt",
            "replay_of",
            "retry_of",
            "cron_job",
            "workflow_run",
            "workflow_step",
            "timeout_s",
            "heartbeat_timeout_s",
            "deadline_at",
            "retry_policy",
            "abort_requested_at",
            "requested_by",
            "routing",
        ]
        read_only_fields = fields

    def get_cost_usd(self, obj) -> str:
        corrected = getattr(obj, "corrected_cost_usd", None)
        return f"{corrected if corrected is not None else obj.cost_usd:.8f}"

    def get_cost_source(self, obj) -> str:
        return getattr(obj, "corrected_cost_source", None) or obj.cost_source

    def get_cost_corrected(self, obj) -> bool:
        return getattr(obj, "corrected_cost_usd", None) is not None


@functools.cache
def _one_execution() -> ExecutionSerializer:
    """One bound :class:`ExecutionSerializer` per process: a ModelSerializer works its ~40 fields
    out of the model on every instantiation (a fifth of a single report's CPU), and writing one
    row out keeps no state on the serializer, so the fields are bound once and shared."""
    serializer = ExecutionSerializer()
    serializer.fields  # noqa: B018 - bind the fields now, not in the first request
    return serializer


def execution_body(execution: Execution) -> dict:
    """One ledger row as the contract shows it: what ``ExecutionSerializer(execution).data`` is."""
    return _one_execution().to_representation(execution)


class ExecutionLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExecutionLog
        fields = ["id", "seq", "ts", "level", "kind", "message", "data", "client_id"]
        read_only_fields = fields
