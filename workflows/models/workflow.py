"""Workflow definitions (versioned DAGs of steps) and their runs, a state machine in the database."""

from django.db import models
from django.utils import timezone

from executions.models import Execution, LedgerReference, LedgerReferenceQuerySet
from governance.models import Business


class Workflow(models.Model):
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="workflows")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    current_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A webhook token (``mcw_...``) is shown once; only its hash is kept.
    webhook_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    webhook_token_prefix = models.CharField(max_length=20, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["business_id", "name"]
        constraints = [models.UniqueConstraint(fields=["business", "name"], name="uniq_workflow_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def definition(self) -> dict:
        return self.current_version.definition if self.current_version_id else {"steps": []}


class WorkflowVersion(models.Model):
    """An immutable definition; a run keeps the version it started with."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["workflow_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="uniq_workflow_version"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"

    def step(self, step_id: str) -> dict:
        return next(s for s in self.definition["steps"] if s["id"] == step_id)


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_RUN = (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED)


class RunTrigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    CRON = "cron", "Cron"
    WEBHOOK = "webhook", "Webhook"
    RERUN = "rerun", "Re-run of a failed run"


class WorkflowRunQuerySet(models.QuerySet):
    def for_business_ids(self, ids):
        return self.filter(business_id__in=ids)

    def active(self):
        return self.exclude(status__in=TERMINAL_RUN)


class WorkflowRun(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="runs")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="runs")
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="workflow_runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    trigger = models.CharField(max_length=10, choices=RunTrigger.choices, default=RunTrigger.MANUAL)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reruns"
    )
    cron_job_id = models.BigIntegerField(null=True, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WorkflowRunQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["business", "-id"], name="workflow_run_business"),
            models.Index(fields=["workflow", "-id"], name="workflow_run_workflow"),
            models.Index(fields=["status"], name="workflow_run_status"),
        ]

    def __str__(self) -> str:
        return f"Run #{self.pk} of {self.workflow_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_RUN


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_STEP = (StepStatus.SUCCESS, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED)


class StepRun(LedgerReference):
    """One step of one run. ``attempt`` counts executions started for it (retries included)."""

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.PENDING)
    attempt = models.PositiveSmallIntegerField(default=0)
    # Enforced by the composite key (execution_id, execution_created_at) on PostgreSQL: the ledger is
    # partitioned by month (executions/partitions.py).
    execution = models.ForeignKey(
        Execution, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    execution_created_at = models.DateTimeField(null=True, blank=True, editable=False)
    agent_id = models.BigIntegerField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # A failed attempt waits here for its retry; the sweeper restarts it once due.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True, help_text="When the running attempt times out.")
    reused = models.BooleanField(default=False, help_text="Output kept from the run this one re-runs.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = LedgerReferenceQuerySet.as_manager()

    class Meta:
        ordering = ["run_id", "position"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(execution__isnull=True, execution_created_at__isnull=True)
                | models.Q(execution__isnull=False, execution_created_at__isnull=False),
                name="step_run_execution_month",
            ),
            models.UniqueConstraint(fields=["run", "step_id"], name="uniq_step_run"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="step_run_retry_due"),
            models.Index(fields=["status", "deadline_at"], name="step_run_deadline"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.step_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STEP
