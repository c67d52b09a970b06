"""Receivers (connected in ``WorkflowsConfig.ready``): executions and workflow runs ending move
runs and cron jobs on; the emergency stop holds cron firing and its release resumes the jobs it held."""

import logging

from django.db import transaction
from django.dispatch import receiver

from executions.signals import execution_finished
from governance.signals import emergency_stop_engaged, emergency_stop_released
from workflows import cron, cron_firing
from workflows.models import WorkflowRun
from workflows.runs import send_advance
from workflows.signals import workflow_run_finished

logger = logging.getLogger(__name__)


@receiver(execution_finished, dispatch_uid="workflows.execution_finished")
def on_execution_finished(sender, execution, retry=None, **kwargs) -> None:
    if execution.workflow_run_id:
        run_id = execution.workflow_run_id
        transaction.on_commit(lambda: send_advance(run_id))
    if execution.cron_job_id:
        cron_firing.execution_finished(execution, retry=retry)


@receiver(workflow_run_finished, sender=WorkflowRun, dispatch_uid="workflows.cron_run_finished")
def on_workflow_run_finished(sender, run, **kwargs) -> None:
    if run.cron_job_id:
        cron_firing.workflow_run_finished(run)


@receiver(emergency_stop_engaged, dispatch_uid="workflows.hold_cron")
def hold_cron(sender, stop=None, business_id=None, **kwargs) -> None:
    held = cron.hold_for_stop(business_id=business_id)
    logger.info("emergency stop: %s cron jobs held", held)


@receiver(emergency_stop_released, dispatch_uid="workflows.release_cron")
def release_cron(sender, stop=None, business_id=None, **kwargs) -> None:
    resumed = cron.release_for_stop(business_id=business_id)
    logger.info("emergency stop released: %s cron jobs resumed", resumed)
