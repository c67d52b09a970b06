from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone as dj_timezone

from governance.roles import Role
from mission_control.models import AppendOnlyModel

# Refusals a constraint below makes true, in the words the API (409) and the admin's form both use.
BUDGET_EXISTS = "A budget for this scope and period exists already; change its limit instead."
POLICY_EXISTS = "That scope already has a policy; change it instead."


class Business(models.Model):
    """A tenant: every agent, execution, job and event belongs to exactly one."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="IANA zone; budget windows follow it."
    )
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "businesses"

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "business"], name="uniq_membership")]
        ordering = ["business__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.business} as {self.role}"


class OperatorTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class OperatorToken(models.Model):
    """An API token for a person (or a script acting for one). Stored only as a hash."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, blank=True)
    prefix = models.CharField(max_length=20)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = OperatorTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class AuditEntry(AppendOnlyModel):
    """Who changed what, when, from what to what: every governance change and control action."""

    ts = models.DateTimeField(default=dj_timezone.now, db_index=True)
    actor = models.CharField(max_length=150, help_text="username, agent:<id> or system")
    action = models.CharField(
        max_length=64, help_text="e.g. agent.stop, budget.update, emergency_stop.engage"
    )
    business = models.ForeignKey(Business, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    client_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="where the request came from (MC_TRUSTED_PROXIES decides)"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["business", "-id"], name="audit_business_id")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M} {self.actor} {self.action}"


# --- Budgets ---------------------------------------------------------------------------------------


class BudgetPeriod(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week (Monday to Sunday)"
    MONTH = "month", "Month"
    TOTAL = "total", "Total (never renews)"


class Budget(models.Model):
    """A hard spending limit for a business, one of its agents, and optionally one model.

    Spend is kept per window (the period's start in the business's time zone), so a new day, week or
    month simply starts a new window row: nothing is ever reset.
    """

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="budgets")
    # A plain id: agents sit above governance in the import order.
    agent_id = models.BigIntegerField(null=True, blank=True, help_text="Empty: the whole business.")
    model = models.CharField(max_length=120, blank=True, help_text="Empty: every model.")
    period = models.CharField(max_length=8, choices=BudgetPeriod.choices, default=BudgetPeriod.MONTH)
    limit_usd = models.DecimalField(
        max_digits=18, decimal_places=6, validators=[MinValueValidator(Decimal(0))]
    )
    soft_limit_pct = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Warn (one event and alert per window) when spend crosses this share of the limit.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["business__name", "agent_id", "model", "period"]
        constraints = [
            # Two partial constraints because NULL agent ids are distinct in a plain unique index.
            # The code and sentence: the admin's form says what the API's 409 says.
            models.UniqueConstraint(
                fields=["business", "model", "period"],
                condition=models.Q(agent_id__isnull=True),
                name="uniq_business_budget",
                violation_error_code="budget_exists",
                violation_error_message=BUDGET_EXISTS,
            ),
            models.UniqueConstraint(
                fields=["business", "agent_id", "model", "period"],
                condition=models.Q(agent_id__isnull=False),
                name="uniq_agent_budget",
                violation_error_code="budget_exists",
                violation_error_message=BUDGET_EXISTS,
            ),
            models.CheckConstraint(condition=models.Q(limit_usd__gte=0), name="budget_limit_non_negative"),
            models.CheckConstraint(
                condition=models.Q(soft_limit_pct__gte=1, soft_limit_pct__lte=100),
                name="budget_soft_pct_range",
            ),
        ]

    def __str__(self) -> str:
        scope = f"agent {self.agent_id}" if self.agent_id else "business"
        model = f" · {self.model}" if self.model else ""
        return f"{self.business} {scope}{model}: ${self.limit_usd}/{self.period}"

    @property
    def soft_limit_usd(self) -> Decimal:
        return (self.limit_usd * self.soft_limit_pct / 100).quantize(Decimal("0.000001"))


class BudgetWindow(models.Model):
    """Spend and reservations of one budget in one period window. ``reserve`` locks this row."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="windows")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    spent_usd = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0))
    reserved_usd = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0))
    # Spend booked before reservation lines recorded it (windows older than that change): the
    # reconciliation proves spent = opening + what the settled lines booked.
    opening_spent_usd = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0))
    # Stamped by a conditional UPDATE so each crossing publishes and alerts exactly once per window.
    soft_alerted_at = models.DateTimeField(null=True, blank=True)
    exceeded_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-window_start"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "window_start"], name="uniq_budget_window"),
            models.CheckConstraint(
                condition=models.Q(reserved_usd__gte=0), name="window_reserved_non_negative"
            ),
            models.CheckConstraint(condition=models.Q(spent_usd__gte=0), name="window_spent_non_negative"),
        ]
        indexes = [models.Index(fields=["budget", "window_end"], name="budgetwindow_current")]

    def __str__(self) -> str:
        return f"{self.budget_id} from {self.window_start:%Y-%m-%d}"


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved"
    SETTLED = "settled", "Settled"
    RELEASED = "released", "Released"


class BudgetReservation(models.Model):
    """Money held for one piece of work (``ref``, e.g. ``execution:42``) until it settles."""

    ref = models.CharField(max_length=120, unique=True)
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    agent_id = models.BigIntegerField(null=True, blank=True)
    model = models.CharField(max_length=120, blank=True)
    estimate_usd = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0))
    actual_usd = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.RESERVED
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["agent_id", "status", "-id"], name="reservation_agent_recent"),
            models.Index(
                fields=["created_at"], condition=models.Q(status="reserved"), name="reservation_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.status}"


class ReservationLine(models.Model):
    """The part of a reservation held in one budget window (one per budget in scope), and what its
    settlement booked there."""

    reservation = models.ForeignKey(BudgetReservation, on_delete=models.CASCADE, related_name="lines")
    window = models.ForeignKey(BudgetWindow, on_delete=models.CASCADE, related_name="+")
    amount_usd = models.DecimalField(max_digits=18, decimal_places=6)
    spent_usd = models.DecimalField(max_digits=18, decimal_places=6, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reservation", "window"], name="uniq_reservation_line")
        ]

    def __str__(self) -> str:
        return f"{self.reservation_id} holds {self.amount_usd} in window {self.window_id}"


# --- Execution restrictions and rate limits ----------------------------------------------------------


class ExecutionPolicy(models.Model):
    """What an agent (``agent_id`` set) or every agent of a business (empty) may be run with.

    Both the business row and the agent row apply: work must pass each. Empty lists allow all.
    """

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="policies")
    agent_id = models.BigIntegerField(null=True, blank=True, help_text="Empty: every agent of the business.")
    allowed_triggers = models.JSONField(default=list, blank=True, help_text='e.g. ["manual", "cron"]')
    allowed_models = models.JSONField(default=list, blank=True)
    allowed_providers = models.JSONField(default=list, blank=True)
    max_tokens_per_execution = models.PositiveBigIntegerField(null=True, blank=True)
    max_cost_per_execution_usd = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    min_run_role = models.CharField(
        max_length=16,
        choices=Role.choices,
        blank=True,
        help_text="Lowest role that may start work by hand (empty: operator).",
    )
    rate_limit = models.CharField(
        max_length=20,
        blank=True,
        help_text="Requests per agent key, e.g. 600/min (empty: the default).",
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["business__name", "agent_id"]
        verbose_name_plural = "execution policies"
        constraints = [
            models.UniqueConstraint(
                fields=["business"],
                condition=models.Q(agent_id__isnull=True),
                name="uniq_business_policy",
                violation_error_code="policy_exists",
                violation_error_message=POLICY_EXISTS,
            ),
            models.UniqueConstraint(
                fields=["business", "agent_id"],
                condition=models.Q(agent_id__isnull=False),
                name="uniq_agent_policy",
                violation_error_code="policy_exists",
                violation_error_message=POLICY_EXISTS,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.business}: " + (f"agent {self.agent_id}" if self.agent_id else "every agent")


# --- Emergency stop -----------------------------------------------------------------------------------


class EmergencyStopQuerySet(models.QuerySet):
    def active(self):
        return self.filter(released_at__isnull=True)

    def covering(self, business_id: int | None):
        """Stops that apply to a business: its own and the global one."""
        if business_id is None:
            return self.filter(business__isnull=True)
        return self.filter(models.Q(business_id=business_id) | models.Q(business__isnull=True))


class EmergencyStop(models.Model):
    """One engagement of the emergency stop, global (no business) or for one business. Kept forever."""

    business = models.ForeignKey(Business, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    engaged_by = models.CharField(max_length=150)
    engaged_at = models.DateTimeField(default=dj_timezone.now)
    released_by = models.CharField(max_length=150, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    objects = EmergencyStopQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one engaged stop per scope (the global scope is business NULL -> 0).
            models.UniqueConstraint(
                Coalesce("business", Value(0)),
                condition=models.Q(released_at__isnull=True),
                name="one_active_stop_per_scope",
            )
        ]

    def __str__(self) -> str:
        scope = self.business.slug if self.business_id else "global"
        state = "released" if self.released_at else "ENGAGED"
        return f"Emergency stop ({scope}) {state}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None
