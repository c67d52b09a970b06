"""The workflows app's tables, one module per concept: cron jobs and workflows (the board is ``board``)."""

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
    "Overlap",
    "RunStatus",
    "RunTrigger",
    "StepRun",
    "StepStatus",
    "Workflow",
    "WorkflowRun",
    "WorkflowVersion",
]
