"""The work app's tables, one module per concept: cron jobs, the task board, workflows."""

from workflows.models.board import Epic, EpicStatus, Priority, Task, TaskComment, TaskDependency, TaskStatus
from workflows.models.cron import CronJob, CronRun, CronRunStatus, Overlap
from workflows.models.workflow import (
    RunStatus,
    RunTrigger,
    StepRun,
    StepStatus,
    Workflow,
    WorkflowRun,
    WorkflowVersion,
)

__all__ = [
    "CronJob",
    "CronRun",
    "CronRunStatus",
    "Epic",
    "EpicStatus",
    "Overlap",
    "Priority",
    "RunStatus",
    "RunTrigger",
    "StepRun",
    "StepStatus",
    "Task",
    "TaskComment",
    "TaskDependency",
    "TaskStatus",
    "Workflow",
    "WorkflowRun",
    "WorkflowVersion",
]
