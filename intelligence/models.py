"""Failure-prediction model versions, the current score of each subject, and the versions agents
were seen running (a deploy is a feature: the ledger does not record versions)."""

from django.db import models
from django.utils import timezone

from agents.models import Agent
from governance.models import Business


class PredictionModel(models.Model):
    """One trained version for one business: the fitted estimator (``artifact``), what it was
    trained on, and its metrics on the later part of the history beside the naive baseline's.

    ``artifact`` is joblib (pickle) bytes. Pickle runs code when loaded, so the bytes carry an
    HMAC under ``SECRET_KEY`` (``signature``): a row written by anyone but the training service
    (a restored dump from elsewhere, a hand-edited row) is refused at load, never unpickled.
    """

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="prediction_models")
    version = models.PositiveIntegerField()
    algorithm = models.CharField(max_length=120)
    features = models.JSONField(default=list, help_text="Feature names, in the estimator's column order.")
    threshold = models.FloatField(help_text="Probability at or above which a subject is at risk.")
    trained_at = models.DateTimeField(default=timezone.now)
    data_from = models.DateTimeField()
    data_until = models.DateTimeField()
    split_at = models.DateTimeField(help_text="Trained on executions before, tested on those after.")
    train_samples = models.PositiveIntegerField()
    test_samples = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=64, help_text="The ledger it was trained on (idempotence).")
    metrics = models.JSONField(help_text="roc_auc, precision, recall, brier on the test split.")
    baseline_metrics = models.JSONField(help_text="The same metrics for the recent failure rate.")
    beats_baseline = models.BooleanField()
    verdict = models.CharField(max_length=300)
    in_use = models.BooleanField(default=False)
    artifact = models.BinaryField()
    signature = models.CharField(max_length=64)
    library_version = models.CharField(max_length=40)

    class Meta:
        ordering = ["business_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["business", "version"], name="uniq_prediction_model_version"),
            models.UniqueConstraint(
                fields=["business"], condition=models.Q(in_use=True), name="one_prediction_model_in_use"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.business_id} v{self.version}{' (in use)' if self.in_use else ''}"


class SubjectKind(models.TextChoices):
    AGENT = "agent", "Agent"
    CRON_JOB = "cron_job", "Cron job"
    WORKFLOW_STEP = "workflow_step", "Workflow step"


class Prediction(models.Model):
    """The latest score of one subject: the probability that its next execution fails."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=SubjectKind.choices)
    subject = models.CharField(max_length=160, help_text="agent:<id>, cron_job:<id> or workflow:<id>/<step>")
    label = models.CharField(max_length=300, help_text="The subject's name, as people know it.")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    baseline = models.FloatField(help_text="The subject's recent failure rate, for comparison.")
    at_risk = models.BooleanField(default=False)
    at_risk_since = models.DateTimeField(null=True, blank=True)
    reasons = models.JSONField(default=list)
    features = models.JSONField(default=dict)
    model = models.ForeignKey(PredictionModel, on_delete=models.CASCADE, related_name="+")
    scored_at = models.DateTimeField()

    class Meta:
        ordering = ["-probability", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["business", "kind", "subject"], name="uniq_prediction_subject"),
            models.CheckConstraint(
                condition=models.Q(probability__gte=0, probability__lte=1), name="prediction_probability_0_1"
            ),
        ]
        indexes = [models.Index(fields=["business", "kind", "-probability"], name="prediction_business_kind")]

    def __str__(self) -> str:
        return f"{self.subject}: {self.probability:.2f}"


class AgentVersionSeen(models.Model):
    """A version an agent was first seen reporting, and when (the scoring sweep notes changes)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    version = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["agent_id", "seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "version", "seen_at"], name="uniq_agent_version_seen")
        ]
        indexes = [models.Index(fields=["agent", "-seen_at"], name="agent_version_seen_recent")]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.version} @ {self.seen_at:%Y-%m-%d %H:%M}"


class SuggestionKind(models.TextChoices):
    RETRY_FUTILE = "retry_futile", "Retries that almost never succeed: fail fast"
    TIMEOUT = "timeout", "Timeout far from the observed p99 duration"
    PARALLELIZE = "parallelize", "Steps in sequence that share no data: run them in parallel"
    CHEAPER_AGENT = "cheaper_agent", "A cheaper agent with the same success rate for a step"
    CRON_STAGGER = "cron_stagger", "Cron jobs piling up at the same minute: stagger them"
    FAILING_HOUR = "failing_hour", "Work that fails at the same hour each day"


class SuggestionState(models.TextChoices):
    OPEN = "open", "Open"
    APPLIED = "applied", "Applied"
    DISMISSED = "dismissed", "Dismissed"


class Suggestion(models.Model):
    """One piece of advice from the history, with its evidence (figures), the expected gain and the
    change applying it makes. ``basis`` is what it was computed against (a workflow version, a
    schedule): a dismissed suggestion stays dismissed for that basis, and comes back only when the
    thing itself changed and the evidence still holds."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=SuggestionKind.choices)
    subject = models.CharField(
        max_length=200, help_text="workflow_step:<id>/<step>, cron_job:<id>, agent:<id>..."
    )
    label = models.CharField(max_length=300)
    basis = models.CharField(max_length=200)
    summary = models.CharField(max_length=500)
    evidence = models.JSONField(default=dict)
    expected_gain = models.CharField(max_length=500)
    gain = models.JSONField(default=dict, help_text="The expected gain as figures.")
    change = models.JSONField(null=True, blank=True, help_text="What applying does; null: advice only.")
    state = models.CharField(max_length=10, choices=SuggestionState.choices, default=SuggestionState.OPEN)
    result = models.JSONField(null=True, blank=True, help_text="What applying did (and how to undo it).")
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "kind", "subject", "basis"], name="uniq_suggestion_subject_basis"
            )
        ]
        indexes = [models.Index(fields=["business", "state", "-id"], name="suggestion_business_state")]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject} ({self.state})"
