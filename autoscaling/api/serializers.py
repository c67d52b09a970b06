from rest_framework import serializers

from autoscaling.models import Action, AutoscaleDecision, AutoscalePolicy
from mission_control.api.serializers import StrictSerializer


class AutoscalePolicySerializer(serializers.ModelSerializer):
    agent = serializers.IntegerField(source="agent_id", read_only=True)

    class Meta:
        model = AutoscalePolicy
        fields = [
            "agent",
            "enabled",
            "min_replicas",
            "max_replicas",
            "target_pending_per_replica",
            "target_wait_s",
            "scale_up_window_s",
            "scale_down_window_s",
            "max_scale_up_step",
            "max_scale_down_step",
            "cooldown_s",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = fields


class AutoscalePolicyUpdateSerializer(StrictSerializer):
    """Fields left out keep their value (a new policy starts from the defaults shown by GET)."""

    enabled = serializers.BooleanField(required=False)
    min_replicas = serializers.IntegerField(required=False, min_value=0, max_value=10_000)
    max_replicas = serializers.IntegerField(required=False, min_value=0, max_value=10_000)
    target_pending_per_replica = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000
    )
    target_wait_s = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=86_400)
    scale_up_window_s = serializers.IntegerField(required=False, min_value=0, max_value=3600)
    scale_down_window_s = serializers.IntegerField(required=False, min_value=0, max_value=3600)
    max_scale_up_step = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    max_scale_down_step = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    cooldown_s = serializers.IntegerField(required=False, min_value=0, max_value=86_400)


class AutoscaleDecisionSerializer(serializers.ModelSerializer):
    agent = serializers.IntegerField(source="agent_id", read_only=True)
    action = serializers.ChoiceField(choices=Action.choices, read_only=True)

    class Meta:
        model = AutoscaleDecision
        fields = [
            "id",
            "agent",
            "at",
            "action",
            "refusal",
            "replicas_before",
            "replicas_after",
            "recommended",
            "pending",
            "ready_tasks",
            "running",
            "oldest_wait_s",
            "throughput_per_min",
            "reason",
        ]
        read_only_fields = fields
