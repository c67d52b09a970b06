from rest_framework import serializers

from agents.models import Agent
from mission_control.api.serializers import StrictModelSerializer
from observability.models import Alert, AlertRule, Anomaly, RuleKind


class AnomalySerializer(serializers.ModelSerializer):
    business = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agent = serializers.IntegerField(source="agent_id", read_only=True)
    agent_name = serializers.CharField(source="agent.name", read_only=True)

    class Meta:
        model = Anomaly
        fields = [
            "id",
            "business",
            "agent",
            "agent_name",
            "metric",
            "hour",
            "value",
            "baseline_median",
            "baseline_mad",
            "baseline_hours",
            "score",
            "reason",
            "detected_at",
        ]


class AlertSerializer(serializers.ModelSerializer):
    business = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    rule = serializers.IntegerField(source="rule_id", read_only=True)
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    kind = serializers.CharField(source="rule.kind", read_only=True)
    agent = serializers.IntegerField(source="agent_id", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "business",
            "rule",
            "rule_name",
            "kind",
            "subject",
            "agent",
            "state",
            "message",
            "value",
            "fired_at",
            "resolved_at",
            "resolved_message",
        ]

    def get_state(self, alert) -> str:
        return "firing" if alert.is_firing else "resolved"


class AlertRuleSerializer(StrictModelSerializer):
    business = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agent = serializers.PrimaryKeyRelatedField(queryset=Agent.objects.all(), allow_null=True, required=False)
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    threshold = serializers.DecimalField(max_digits=18, decimal_places=8, min_value=0, required=False)

    class Meta:
        model = AlertRule
        fields = [
            "id",
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
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "business", "created_by", "created_at"]

    def validate(self, attrs):
        business_id = self.context["business_id"]
        agent = attrs.get("agent")
        if agent is not None and agent.business_id != business_id:
            raise serializers.ValidationError({"agent": ["No such agent in this business."]})
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        threshold = attrs.get("threshold", getattr(self.instance, "threshold", 0))
        if kind == RuleKind.FAILURE_RATE and threshold > 1:
            raise serializers.ValidationError({"threshold": ["A failure rate is a fraction from 0 to 1."]})
        if kind == RuleKind.AGENT_AT_RISK and threshold > 1:
            raise serializers.ValidationError({"threshold": ["A probability is a fraction from 0 to 1."]})
        return attrs


class AlertRuleCreateSerializer(AlertRuleSerializer):
    business = serializers.SlugField(write_only=True)

    class Meta(AlertRuleSerializer.Meta):
        read_only_fields = ["id", "created_by", "created_at"]
