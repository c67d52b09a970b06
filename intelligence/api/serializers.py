from rest_framework import serializers

from intelligence.models import Prediction, PredictionModel, Suggestion


class PredictionSerializer(serializers.ModelSerializer):
    business = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agent = serializers.IntegerField(source="agent_id", read_only=True, allow_null=True)
    probability = serializers.FloatField(read_only=True, min_value=0, max_value=1)
    baseline = serializers.FloatField(
        read_only=True, help_text="The subject's failure rate over its last 20 finished executions."
    )
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)
    model_version = serializers.IntegerField(source="model.version", read_only=True)

    class Meta:
        model = Prediction
        fields = [
            "business",
            "kind",
            "subject",
            "label",
            "agent",
            "probability",
            "baseline",
            "at_risk",
            "at_risk_since",
            "reasons",
            "model_version",
            "scored_at",
        ]


class MetricsSerializer(serializers.Serializer):
    roc_auc = serializers.FloatField()
    precision = serializers.FloatField(help_text="At the model's threshold.")
    recall = serializers.FloatField(help_text="At the model's threshold.")
    brier = serializers.FloatField()
    flagged = serializers.IntegerField(help_text="Test samples at or above the threshold.")
    positives = serializers.IntegerField(help_text="Test samples that failed.")
    samples = serializers.IntegerField()


class PredictionModelSerializer(serializers.ModelSerializer):
    business = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    features = serializers.ListField(child=serializers.CharField(), read_only=True)
    metrics = MetricsSerializer(read_only=True)
    baseline_metrics = MetricsSerializer(read_only=True)

    class Meta:
        model = PredictionModel
        fields = [
            "id",
            "business",
            "version",
            "algorithm",
            "features",
            "threshold",
            "trained_at",
            "data_from",
            "data_until",
            "split_at",
            "train_samples",
            "test_samples",
            "metrics",
            "baseline_metrics",
            "beats_baseline",
            "verdict",
            "in_use",
        ]


class SuggestionSerializer(serializers.ModelSerializer):
    business = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    evidence = serializers.DictField(read_only=True, help_text="The figures it rests on.")
    gain = serializers.DictField(read_only=True, help_text="The expected gain as figures.")
    change = serializers.DictField(
        read_only=True, allow_null=True, help_text="What applying does; null: advice only."
    )
    result = serializers.DictField(
        read_only=True, allow_null=True, help_text="What applying did, and how to undo it."
    )
    applicable = serializers.SerializerMethodField()

    class Meta:
        model = Suggestion
        fields = [
            "id",
            "business",
            "kind",
            "subject",
            "label",
            "summary",
            "evidence",
            "expected_gain",
            "gain",
            "applicable",
            "change",
            "state",
            "result",
            "decided_by",
            "decided_at",
            "created_at",
            "updated_at",
        ]

    def get_applicable(self, suggestion) -> bool:
        return bool(suggestion.change)
