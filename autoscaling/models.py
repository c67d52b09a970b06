"""An autoscaling policy per agent, and the decision the sweep takes for it every period.

A decision row is written every period for every enabled policy, holds included: the rows are the
stabilisation windows' memory (the recommendations of the last minutes), the agent page's chart of
replicas against queue depth, and the audit of why the autoscaler did (or did not) act. The sweep
deletes rows older than ``MC_AUTOSCALE_KEEP_DAYS``.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from agents.models import Agent
from governance.models import Business

AUTOSCALER = "autoscaler"  # the actor name of every change the autoscaler makes


class AutoscalePolicy(models.Model):
    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="autoscale_policy")
    enabled = models.BooleanField(default=False)
    min_replicas = models.PositiveIntegerField(default=1)
    max_replicas = models.PositiveIntegerField(default=4)
    target_pending_per_replica = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Pending work (queued executions and ready board tasks it fits) per replica.",
    )
    target_wait_s = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="The oldest pending execution should wait no longer than this.",
    )
    # The HPA's defaults: scale up at once (0 s), down on the highest recommendation of 5 minutes.
    scale_up_window_s = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(3600)],
        help_text="Scale up to the lowest recommendation of this window: pressure must last this long.",
    )
    scale_down_window_s = models.PositiveIntegerField(
        default=300,
        validators=[MaxValueValidator(3600)],
        help_text="Scale down to the highest recommendation of this window: no flapping on a dip.",
    )
    max_scale_up_step = models.PositiveIntegerField(
        default=4,
        validators=[MinValueValidator(1)],
        help_text="A scale-up adds at most this many replicas, or doubles them, whichever is more.",
    )
    max_scale_down_step = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="A scale-down removes at most this many."
    )
    cooldown_s = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(86400)],
        help_text="No change within this long of the last one; an operator's manual scale pauses the policy as long.",
    )
    updated_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "autoscale policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_replicas__lte=models.F("max_replicas")), name="autoscale_bounds"
            ),
        ]

    def __str__(self) -> str:
        return f"autoscale {self.agent}"


class Action(models.TextChoices):
    SCALE_UP = "scale_up", "Scaled up"
    SCALE_DOWN = "scale_down", "Scaled down"
    HOLD = "hold", "Held"
    REFUSED = "refused", "Refused"


class AutoscaleDecision(models.Model):
    """What the autoscaler saw and did for one agent in one period. Never changed once written."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="autoscale_decisions")
    period = models.BigIntegerField(help_text="Seconds since the epoch // MC_AUTOSCALE_PERIOD_S.")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=12, choices=Action.choices)
    refusal = models.CharField(max_length=20, blank=True, help_text="Why a wanted change was not made.")
    replicas_before = models.PositiveIntegerField()
    replicas_after = models.PositiveIntegerField()
    recommended = models.PositiveIntegerField(help_text="This period's recommendation, before the windows.")
    pending = models.PositiveIntegerField()
    ready_tasks = models.PositiveIntegerField()
    running = models.PositiveIntegerField()
    oldest_wait_s = models.FloatField(null=True, blank=True)
    throughput_per_min = models.FloatField(default=0)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Two workers running the sweep at once: the second one's row for the period is refused.
            models.UniqueConstraint(fields=["agent", "period"], name="uniq_autoscale_decision_period"),
        ]
        indexes = [
            models.Index(fields=["agent", "-at"], name="autoscale_decision_agent_at"),
            models.Index(fields=["at"], name="autoscale_decision_at"),  # pruning (MC_AUTOSCALE_KEEP_DAYS)
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} @{self.period}: {self.action}"

    @property
    def queue(self) -> int:
        return self.pending + self.ready_tasks
