"""Cron jobs and their runs. Beat fires them through a django-celery-beat ``PeriodicTask`` that the
cron service keeps in step with each job: there is no second scheduler."""

from datetime import datetime

from django.db import models
from django.utils import timezone as dj_timezone
from django_celery_beat.models import PeriodicTask

from agents.models import Agent
from executions.models import Execution, LedgerReference, LedgerReferenceQuerySet
from governance.models import Business
from workflows.schedules import describe, next_after


class Overlap(models.TextChoices):
    SKIP = "skip", "Skip the firing while a run is active"
    QUEUE = "queue", "Queue one run after the active one"
    ALLOW = "allow", "Allow concurrent runs"


class CronRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued behind an active run"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    REFUSED = "refused", "Refused (stop, budget or restriction)"
    MISSED = "missed", "Missed (did not start within the grace period)"


FINISHED_RUN = (CronRunStatus.SUCCESS, CronRunStatus.FAILED)


class CronJobQuerySet(models.QuerySet):
    def for_business_ids(self, ids):
        return self.filter(business_id__in=ids)

    def firing(self):
        """Jobs beat should fire: enabled and not held by an emergency stop."""
        return self.filter(enabled=True, held_by_stop=False)


class CronJob(models.Model):
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="cron_jobs")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    schedule = models.CharField(max_length=120, help_text="5-field cron expression, in the job's time zone.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA zone, e.g. Europe/Paris.")
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="cron_jobs"
    )
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.PROTECT, related_name="cron_jobs"
    )
    capability = models.CharField(
        max_length=64,
        blank=True,
        help_text="Instead of an agent: the cheapest agent with it, routed at each run.",
    )
    input = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    # Set by the emergency stop on jobs it paused, so that releasing it resumes exactly those.
    held_by_stop = models.BooleanField(default=False)
    overlap = models.CharField(max_length=8, choices=Overlap.choices, default=Overlap.SKIP)
    grace_seconds = models.PositiveIntegerField(
        default=300, help_text="A run not started this long after its time is reported missed."
    )
    max_runtime_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="A run still going after this long is failed."
    )
    retry_policy = models.JSONField(null=True, blank=True)
    failure_alert_after = models.PositiveSmallIntegerField(
        default=3, help_text="Alert when this many runs in a row fail (0: never)."
    )
    # Slots before this instant are never reported missed (creation, resume, schedule change).
    active_since = models.DateTimeField(default=dj_timezone.now)
    # Every slot before this instant has a run row (or was summarised): the catch-up sweep's mark.
    slots_checked_until = models.DateTimeField(null=True, blank=True)
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=10, choices=CronRunStatus.choices, blank=True)
    runs_finished = models.PositiveIntegerField(default=0)
    runs_succeeded = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveIntegerField(default=0)
    total_duration_ms = models.BigIntegerField(default=0)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CronJobQuerySet.as_manager()

    class Meta:
        ordering = ["business_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["business", "name"], name="uniq_cron_job_name"),
            models.CheckConstraint(
                condition=models.Q(agent__isnull=False, workflow__isnull=True, capability="")
                | models.Q(agent__isnull=True, workflow__isnull=False, capability="")
                | (models.Q(agent__isnull=True, workflow__isnull=True) & ~models.Q(capability="")),
                name="cron_job_one_target",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def success_rate(self) -> float | None:
        return round(self.runs_succeeded / self.runs_finished, 4) if self.runs_finished else None

    @property
    def avg_duration_ms(self) -> int | None:
        return self.total_duration_ms // self.runs_finished if self.runs_finished else None

    @property
    def is_firing(self) -> bool:
        return self.enabled and not self.held_by_stop

    def next_run_at(self, now: datetime | None = None) -> datetime | None:
        if not self.is_firing:
            return None
        return next_after(self.schedule, self.timezone, now or dj_timezone.now())

    def describe(self) -> str:
        return describe(self.schedule)


class CronRunQuerySet(LedgerReferenceQuerySet):
    def active(self):
        return self.filter(status=CronRunStatus.RUNNING)


class CronRun(LedgerReference):
    """One firing of a job (one per scheduled time: the unique slot makes firing idempotent)."""

    cron_job = models.ForeignKey(CronJob, on_delete=models.CASCADE, related_name="runs")
    scheduled_for = models.DateTimeField()
    manual = models.BooleanField(default=False, help_text="Started by run-now, not by the schedule.")
    status = models.CharField(max_length=10, choices=CronRunStatus.choices)
    reason = models.CharField(max_length=64, blank=True, help_text="Why it was skipped, refused or failed.")
    detail = models.TextField(blank=True)
    # Enforced by the composite key (execution_id, execution_created_at) on PostgreSQL: the ledger is
    # partitioned by month (executions/partitions.py).
    execution = models.ForeignKey(
        Execution, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    execution_created_at = models.DateTimeField(null=True, blank=True, editable=False)
    workflow_run = models.ForeignKey(
        "workflows.WorkflowRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)

    objects = CronRunQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(execution__isnull=True, execution_created_at__isnull=True)
                | models.Q(execution__isnull=False, execution_created_at__isnull=False),
                name="cron_run_execution_month",
            ),
            # One firing per scheduled time; run-now rows are extra and never collide with a slot.
            models.UniqueConstraint(
                fields=["cron_job", "scheduled_for"],
                condition=models.Q(manual=False),
                name="uniq_cron_run_slot",
            ),
        ]
        indexes = [
            models.Index(fields=["cron_job", "status"], name="cron_run_job_status"),
            # /metrics' last success per job: one index step per job, however long its history.
            models.Index(fields=["cron_job", "status", "-scheduled_for"], name="cron_run_job_status_time"),
            models.Index(fields=["scheduled_for"], name="cron_run_scheduled"),
        ]

    def __str__(self) -> str:
        return f"{self.cron_job_id}@{self.scheduled_for:%Y-%m-%d %H:%M} {self.status}"
