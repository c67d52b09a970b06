"""Rollups (derived, rebuildable from the ledger), alert rules and their history, anomalies.

Money in rollups is an integer count of 1e-8 USD (``cost_e8``): the ledger keeps 8 decimal places,
and integer sums stay exact on SQLite too, where a DecimalField is stored as a float.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from agents.models import Agent
from governance.models import Business

COST_SCALE = Decimal("1e-8")


def cost_from_e8(value: int | None) -> Decimal:
    return (Decimal(value or 0) * COST_SCALE).quantize(COST_SCALE)


def cost_to_e8(value: Decimal | None) -> int:
    return int((Decimal(value or 0) / COST_SCALE).to_integral_value())


class RollupCounters(models.Model):
    """The additive counters both rollup tables keep for one bucket."""

    executions = models.BigIntegerField(default=0, help_text="Terminal executions finished in the hour.")
    success = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    aborted = models.BigIntegerField(default=0)
    duration_ms_sum = models.BigIntegerField(default=0)
    duration_ms_max = models.BigIntegerField(default=0)
    duration_count = models.BigIntegerField(default=0, help_text="Executions that reported a duration.")
    cost_e8 = models.BigIntegerField(default=0, help_text="Cost in units of 1e-8 USD.")

    class Meta:
        abstract = True

    @property
    def cost_usd(self) -> Decimal:
        return cost_from_e8(self.cost_e8)


class AgentRollup(RollupCounters):
    """Per business, agent and model: counts land in the bucket an execution finished in; busy time
    is split over every bucket the execution was running in."""

    # No database-level foreign keys on derived, high-volume rows: a rebuild writes hundreds of
    # thousands of them and the per-row integrity checks were most of its time. The rows are
    # deleted with their business by the cascade below all the same.
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    model = models.CharField(max_length=120, blank=True)
    cron_total = models.BigIntegerField(default=0, help_text="Finished executions with trigger cron.")
    cron_success = models.BigIntegerField(default=0)
    wait_ms_sum = models.BigIntegerField(default=0, help_text="Created to started, summed.")
    wait_count = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    busy_ms = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class HourlyRollup(AgentRollup):
    """Per business, agent, model and UTC hour."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "agent", "model", "hour"], name="uniq_hourly_rollup")
        ]
        indexes = [
            models.Index(fields=["business", "hour"], name="rollup_business_hour"),
            models.Index(fields=["agent", "hour"], name="rollup_agent_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}/{self.model or '-'} @ {self.hour:%Y-%m-%d %H}:00"


class DailyRollup(AgentRollup):
    """The same figures per UTC day: long windows read a day's row instead of 24 hourly ones."""

    day = models.DateTimeField(help_text="The UTC midnight starting the day.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "agent", "model", "day"], name="uniq_daily_rollup")
        ]
        indexes = [models.Index(fields=["business", "day"], name="rollup_business_day")]

    def __str__(self) -> str:
        return f"{self.agent_id}/{self.model or '-'} @ {self.day:%Y-%m-%d}"


class SourceKind(models.TextChoices):
    CRON = "cron", "Cron job"
    STEP = "step", "Workflow step"


class SourceRollup(RollupCounters):
    """Per business, work source (a cron job, a workflow step) and UTC hour: the bottleneck views."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    kind = models.CharField(max_length=4, choices=SourceKind.choices)
    key = models.CharField(max_length=120, help_text="Cron job id, or the workflow step id.")
    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "kind", "key", "hour"], name="uniq_source_rollup")
        ]
        indexes = [models.Index(fields=["business", "kind", "hour"], name="source_rollup_business")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} @ {self.hour:%Y-%m-%d %H}:00"


# Upper bounds (seconds) of the execution-duration histogram Prometheus reads (``/metrics``).
DURATION_BUCKETS_S = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 21600)


class LifetimeRollup(models.Model):
    """Per business, agent, model and terminal status, since the ledger began: the counters
    ``/metrics`` serves (Prometheus wants running totals; summing every daily row of 10,000 agents
    at each scrape would not do). Written with the hourly and daily rows, in the same transaction,
    under the same marker; a rebuild recomputes it from the counted ledger."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    model = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=10)
    executions = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_e8 = models.BigIntegerField(default=0, help_text="Cost in units of 1e-8 USD.")
    duration_ms_sum = models.BigIntegerField(default=0)
    duration_count = models.BigIntegerField(default=0)
    # Executions whose duration fell in each bucket (not cumulative): le_1 is (0, 1 s], le_5 (1, 5 s]...
    le_1 = models.BigIntegerField(default=0)
    le_5 = models.BigIntegerField(default=0)
    le_15 = models.BigIntegerField(default=0)
    le_30 = models.BigIntegerField(default=0)
    le_60 = models.BigIntegerField(default=0)
    le_300 = models.BigIntegerField(default=0)
    le_900 = models.BigIntegerField(default=0)
    le_1800 = models.BigIntegerField(default=0)
    le_3600 = models.BigIntegerField(default=0)
    le_21600 = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business", "agent", "model", "status"], name="uniq_lifetime_rollup"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}/{self.model or '-'}/{self.status}"


class RolledUpExecution(models.Model):
    """Marks an execution as counted: inserting this row and adding its figures happen in one
    transaction, so a redelivered signal, the catch-up and a rebuild never count it twice."""

    execution_id = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return f"execution {self.execution_id}"


class RolledUpCorrection(models.Model):
    """Marks a cost correction as added to the rollups (observability/corrections.py), like
    ``RolledUpExecution`` does an execution: each is applied once whoever applies it."""

    correction_id = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return f"correction {self.correction_id}"


class RollupCursor(models.Model):
    """Where the catch-up sweep resumes: ids below ``next_id`` were seen for good (``open_ids`` were
    then still running and are looked at again)."""

    name = models.CharField(max_length=40, unique=True)
    next_id = models.BigIntegerField(default=0)
    open_ids = models.JSONField(default=list, blank=True)
    # [[when, highest id seen then], ...]: the cursor passes an id once a note above it is old.
    marks = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} @ {self.next_id}"


class RuleKind(models.TextChoices):
    FAILURE_RATE = "failure_rate", "Failure rate above threshold (0..1) over the window"
    COST_BURN = "cost_burn", "Cost burn above threshold USD per hour over the window"
    AGENT_OFFLINE = "agent_offline", "Agent offline (for longer than the window)"
    CRON_MISSED = "cron_missed", "Cron job missed a run within the window"
    CRON_FAILING = "cron_failing", "Cron job's last runs failed (threshold = how many in a row)"
    BUDGET_SOFT_LIMIT = "budget_soft_limit", "Budget past its soft limit"
    # Checked by the intelligence app, which registers it (it sits above observability).
    AGENT_AT_RISK = "agent_at_risk", "Agent at risk: predicted failure probability above threshold (0..1)"


class AlertRule(models.Model):
    """A condition watched by the evaluation sweep. Unscoped rules watch every agent (cron job,
    budget) of the business, each as its own incident."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    cron_job_id = models.BigIntegerField(null=True, blank=True)
    threshold = models.DecimalField(
        max_digits=18, decimal_places=8, default=Decimal(0), validators=[MinValueValidator(Decimal(0))]
    )
    window_minutes = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    min_executions = models.PositiveIntegerField(
        default=5, help_text="Failure rate: fewer finished executions in the window never fire."
    )
    email_to = models.TextField(blank=True, help_text="Addresses, separated by commas or new lines.")
    webhook_url = models.URLField(blank=True, help_text="Slack-compatible incoming webhook.")
    enabled = models.BooleanField(default=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["business_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["business", "name"], name="uniq_alert_rule_name"),
            models.CheckConstraint(condition=models.Q(threshold__gte=0), name="alert_rule_threshold_gte_0"),
        ]

    def __str__(self) -> str:
        return self.name

    def email_recipients(self) -> list[str]:
        return [a.strip() for a in self.email_to.replace("\n", ",").split(",") if a.strip()]


class AlertQuerySet(models.QuerySet):
    def firing(self):
        return self.filter(resolved_at__isnull=True)


class Alert(models.Model):
    """One incident: fired once when the rule starts to hold for a subject, resolved once when it
    stops. The partial unique constraint keeps it to one open incident per rule and subject."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=60, help_text="business, agent:<id>, cron:<id> or budget:<id>")
    agent_id = models.BigIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500)
    value = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    fired_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_message = models.CharField(max_length=500, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(resolved_at__isnull=True),
                name="uniq_open_alert",
            )
        ]
        indexes = [models.Index(fields=["business", "-id"], name="alert_business_id")]

    def __str__(self) -> str:
        return f"{self.rule} [{self.subject}] {'resolved' if self.resolved_at else 'firing'}"

    @property
    def is_firing(self) -> bool:
        return self.resolved_at is None


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One message about an alert (fired or resolved) or a budget crossing to one channel, with its
    delivery outcome."""

    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )  # none for a budget crossing (governance's budget_crossed)
    event = models.CharField(
        max_length=32, help_text="alert.fired, alert.resolved, budget.soft_limit or budget.exceeded"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=500)
    text = models.TextField()
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.event} via {self.channel} ({self.status})"


class Metric(models.TextChoices):
    DURATION = "duration_ms", "Average duration (ms)"
    COST = "cost_usd", "Average cost per execution (USD)"
    FAILURE_RATE = "failure_rate", "Failure rate"


class Anomaly(models.Model):
    """An hour in which an agent's metric was far from its own recent baseline (robust z-score)."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=16, choices=Metric.choices)
    hour = models.DateTimeField()
    value = models.DecimalField(max_digits=24, decimal_places=8)
    baseline_median = models.DecimalField(max_digits=24, decimal_places=8)
    baseline_mad = models.DecimalField(max_digits=24, decimal_places=8)
    baseline_hours = models.PositiveIntegerField()
    score = models.DecimalField(max_digits=12, decimal_places=2, help_text="Robust z-score.")
    reason = models.CharField(max_length=500)
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "metric", "hour"], name="uniq_anomaly"),
        ]
        indexes = [models.Index(fields=["business", "-id"], name="anomaly_business_id")]
        verbose_name_plural = "anomalies"

    def __str__(self) -> str:
        return f"{self.agent_id} {self.metric} @ {self.hour:%Y-%m-%d %H}:00"
