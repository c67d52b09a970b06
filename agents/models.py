from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import connection, models
from django.db.models import Case, CharField, Count, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from governance.models import Business


class AgentMode(models.TextChoices):
    PULL = "pull", "Pull (claims work)"
    PUSH = "push", "Push (work is POSTed to it)"


class ReportedStatus(models.TextChoices):
    IDLE = "idle", "Idle"
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"


class DesiredState(models.TextChoices):
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"


class AgentQuerySet(models.QuerySet):
    def for_business_ids(self, ids):
        return self.filter(business_id__in=ids)

    def offline(self, now):
        """Agents whose last heartbeat is older than their own timeout (or that never beat)."""
        return self.filter(models.Q(offline_after__isnull=True) | models.Q(offline_after__lt=now))

    def online(self, now):
        return self.filter(offline_after__gte=now)

    def with_live_status(self, now):
        """Annotate ``running_now`` (executions the ledger has running for the agent) and
        ``live_status``, the status shown everywhere (pages, API, dashboards): ``offline`` when the
        heartbeat is late, ``blocked`` as reported, else ``active`` when the ledger has work of it
        running and ``idle`` when it has none. Heartbeats arrive every few seconds while claims and
        finishes land in between, so the ledger, not the last heartbeat, says whether it is busy."""
        ledger = self.model._meta.get_field("executions").related_model  # the ledger sits above agents
        running = (
            ledger.objects.filter(agent_id=OuterRef("pk"), status="running")
            .order_by()
            .values("agent_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(
            running_now=Coalesce(Subquery(running, output_field=IntegerField()), 0)
        ).annotate(
            live_status=Case(
                When(Q(offline_after__isnull=True) | Q(offline_after__lt=now), then=Value("offline")),
                When(status=ReportedStatus.BLOCKED, then=Value("blocked")),
                When(running_now__gt=0, then=Value("active")),
                default=Value("idle"),
                output_field=CharField(),
            )
        )

    def with_effective_status(self, status: str, now):
        """Filter on the status shown to people (see ``with_live_status``)."""
        return self.with_live_status(now).filter(live_status=status)

    def with_capability(self, capability: str):
        """Agents whose ``capabilities`` list contains ``capability`` (an index-friendly @> on PostgreSQL)."""
        if connection.vendor == "postgresql":
            return self.filter(capabilities__contains=[capability])
        # SQLite has no JSON containment lookup; json_each answers the same question.
        contains = RawSQL(
            "EXISTS (SELECT 1 FROM json_each(agents_agent.capabilities) WHERE value = %s)",
            [capability],
            output_field=models.BooleanField(),
        )
        return self.filter(contains)


class Agent(models.Model):
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="agents")
    name = models.CharField(max_length=120)
    capabilities = models.JSONField(default=list, blank=True)
    mode = models.CharField(max_length=8, choices=AgentMode.choices, default=AgentMode.PULL)
    endpoint_url = models.URLField(blank=True, help_text="Push agents: where work is POSTed.")
    version = models.CharField(max_length=64, blank=True)
    runtime_location = models.CharField(max_length=200, blank=True)
    desired_state = models.CharField(max_length=8, choices=DesiredState.choices, default=DesiredState.RUNNING)
    status = models.CharField(
        max_length=8,
        choices=ReportedStatus.choices,
        default=ReportedStatus.IDLE,
        help_text="As last reported.",
    )
    scale = models.PositiveIntegerField(default=1)
    min_scale = models.PositiveIntegerField(default=0)
    max_scale = models.PositiveIntegerField(default=10)
    heartbeat_timeout_s = models.PositiveIntegerField(
        default=settings.MC_DEFAULT_HEARTBEAT_TIMEOUT_S, validators=[MinValueValidator(5)]
    )
    max_cost_per_execution_usd = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    notes = models.TextField(blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    # last_heartbeat + heartbeat_timeout_s, kept with them: "offline" becomes one indexed
    # comparison on every database (SQLite cannot multiply an interval by a column).
    offline_after = models.DateTimeField(null=True, blank=True, editable=False)
    # Set by the offline sweep so that going offline and coming back each publish one event.
    offline_since = models.DateTimeField(null=True, blank=True)
    running_executions = models.JSONField(
        default=list, blank=True, help_text="Ids the agent last reported running."
    )
    # Set when an emergency stop turned this running agent off, so that releasing the stop starts
    # exactly the agents that were running before it (and not those an operator had stopped).
    held_by_emergency_stop = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["business", "name"], name="uniq_agent_name_per_business"),
            models.CheckConstraint(
                condition=models.Q(min_scale__lte=models.F("max_scale")), name="agent_scale_bounds"
            ),
            models.CheckConstraint(
                condition=models.Q(scale__gte=models.F("min_scale"), scale__lte=models.F("max_scale")),
                name="agent_scale_within_bounds",
            ),
        ]
        indexes = [
            models.Index(fields=["business", "last_heartbeat"], name="agent_business_heartbeat"),
            models.Index(fields=["offline_after"], name="agent_offline_after"),
        ]

    def __str__(self) -> str:
        return self.name

    def expected_by(self, heartbeat=None):
        """When the agent counts as offline if nothing arrives after ``heartbeat``."""
        heartbeat = heartbeat or self.last_heartbeat
        return heartbeat + timedelta(seconds=self.heartbeat_timeout_s) if heartbeat else None

    def is_offline(self, now=None) -> bool:
        now = now or timezone.now()
        return self.last_heartbeat is None or now - self.last_heartbeat > timedelta(
            seconds=self.heartbeat_timeout_s
        )

    def running_count(self) -> int:
        """Executions the ledger has running for this agent (annotated by ``with_live_status``)."""
        running = getattr(self, "running_now", None)
        if running is None:
            running = self.running_now = self.executions.filter(status="running").count()
        return running

    def effective_status(self, now=None) -> str:
        """The status shown everywhere, by the rule of ``AgentQuerySet.with_live_status``."""
        live = getattr(self, "live_status", None)
        if live is not None:  # annotated by the query that loaded it, at the same moment
            return live
        if self.is_offline(now):
            return "offline"
        if self.status == ReportedStatus.BLOCKED:
            return "blocked"
        return "active" if self.running_count() else "idle"

    def lifecycle_label(self, now=None) -> str:
        """Desired state beside observed status: an agent told to stop that is still busy is stopping."""
        status = self.effective_status(now)
        if self.desired_state == DesiredState.STOPPED:
            # Until it says it has stopped working (or falls silent) an agent told to stop is stopping.
            still_busy = status != "idle" or self.status != ReportedStatus.IDLE
            return "stopping" if status != "offline" and still_busy else "stopped"
        if status == "offline":
            return "offline"
        return "running"


class AgentKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class AgentKey(models.Model):
    """A bearer key an agent authenticates with. Only the hash is stored."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=80, blank=True)
    prefix = models.CharField(max_length=20)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AgentKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.agent})"


class CommandType(models.TextChoices):
    START = "start", "Start"
    STOP = "stop", "Stop"
    RESTART = "restart", "Restart"
    SCALE = "scale", "Scale"
    ABORT = "abort", "Abort execution"


class AgentCommandQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(acknowledged_at__isnull=True)


class AgentCommand(models.Model):
    """An instruction for an agent, delivered in every heartbeat answer until acknowledged."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="commands")
    type = models.CharField(max_length=16, choices=CommandType.choices)
    args = models.JSONField(default=dict, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    objects = AgentCommandQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["agent", "id"],
                condition=models.Q(acknowledged_at__isnull=True),
                name="agentcommand_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} for {self.agent_id}"

    def as_message(self) -> dict:
        return {
            "id": self.pk,
            "type": self.type,
            "args": self.args,
            "created_at": self.created_at.isoformat(),
        }
