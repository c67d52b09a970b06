"""The task board: epics, tasks with dependencies, and their comments and activity.

The tables keep the names they had when the board lived in the ``workflows`` app (``db_table``):
moving the app moved Django's state, not the rows, so no deploy takes a lock on the hot task table
to rename it (board/migrations/0001_initial.py)."""

from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone

from agents.models import Agent
from governance.models import Business
from mission_control.models import AppendOnlyModel


class EpicStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class Epic(models.Model):
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="epics")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=EpicStatus.choices, default=EpicStatus.OPEN)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "workflows_epic"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.title


class TaskStatus(models.TextChoices):
    INBOX = "inbox", "Inbox"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    REVIEW = "review", "Review"
    DONE = "done", "Done"
    BLOCKED = "blocked", "Blocked"


# Statuses from which an agent may pick a task up.
OPEN_FOR_CLAIM = (TaskStatus.INBOX, TaskStatus.ASSIGNED)


class Priority(models.IntegerChoices):
    LOW = 0, "low"
    NORMAL = 1, "normal"
    HIGH = 2, "high"
    URGENT = 3, "urgent"


class TaskQuerySet(models.QuerySet):
    def for_business_ids(self, ids):
        return self.filter(business_id__in=ids)

    def with_open_blockers(self):
        undone = TaskDependency.objects.filter(blocked=OuterRef("pk")).exclude(
            blocker__status=TaskStatus.DONE
        )
        return self.annotate(has_open_blockers=Exists(undone))

    def ready(self):
        """Tasks waiting to be worked on whose blockers are all done."""
        return self.with_open_blockers().filter(status__in=OPEN_FOR_CLAIM, has_open_blockers=False)


class Task(models.Model):
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="tasks")
    epic = models.ForeignKey(Epic, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="subtasks"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.INBOX)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    required_capabilities = models.JSONField(default=list, blank=True)
    blocked_by = models.ManyToManyField(
        "self",
        symmetrical=False,
        through="TaskDependency",
        through_fields=("blocked", "blocker"),
        related_name="blocks",
        blank=True,
    )
    result = models.JSONField(null=True, blank=True, help_text="What the agent reported on finishing.")
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The agent's id for the claim that took this task: a retried claim gets the same task.
    claim_id = models.CharField(max_length=64, null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        db_table = "workflows_task"
        ordering = ["-priority", "id"]
        indexes = [
            models.Index(fields=["business", "status", "-priority", "id"], name="task_board"),
            models.Index(fields=["assignee", "status"], name="task_assignee_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "claim_id"],
                condition=models.Q(claim_id__isnull=False),
                name="uniq_task_claim_id",
            )
        ]

    def __str__(self) -> str:
        return self.title


class TaskDependency(models.Model):
    """``blocked`` cannot be worked on before ``blocker`` is done."""

    blocker = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    blocked = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "workflows_taskdependency"
        verbose_name_plural = "task dependencies"
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="uniq_task_dependency"),
            models.CheckConstraint(
                condition=~models.Q(blocker=models.F("blocked")), name="task_dependency_not_self"
            ),
        ]
        indexes = [models.Index(fields=["blocked"], name="task_dependency_blocked")]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class TaskComment(AppendOnlyModel):
    """A comment, or an activity line (status change, claim, hand-off). Never edited."""

    class Kind(models.TextChoices):
        COMMENT = "comment", "Comment"
        ACTIVITY = "activity", "Activity"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COMMENT)
    author = models.CharField(max_length=150, help_text="username, agent:<id> or system")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "workflows_taskcomment"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.task_id} by {self.author}"
