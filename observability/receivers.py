"""Keeps the rollups current as executions finish."""

import logging

from django.dispatch import receiver

from executions.signals import execution_finished
from observability.rollups import roll_up_execution

logger = logging.getLogger(__name__)


@receiver(execution_finished, dispatch_uid="observability.roll_up")
def roll_up_finished_execution(sender, execution, **kwargs) -> None:
    # A failure here must never break the ledger's own path: the catch-up sweep counts it later.
    try:
        roll_up_execution(execution.pk)
    except Exception:
        logger.exception("could not roll up execution %s; the catch-up sweep will", execution.pk)
