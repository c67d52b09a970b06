"""Keeps the rollups current as executions finish."""

import logging

from django.dispatch import receiver

from executions import signals
from executions.models import TERMINAL
from governance.models import Budget
from governance.signals import budget_crossed
from observability.alerts import notify_budget_crossing
from observability.corrections import apply_corrections
from observability.rollups import roll_up_ended, roll_up_rows

logger = logging.getLogger(__name__)
# Sent once per batch report with its terminal rows, where the ledger provides it.
batch_finished = getattr(signals, "executions_batch_finished", None)


@receiver(signals.execution_finished, dispatch_uid="observability.roll_up")
def roll_up_finished_execution(sender, execution, batch=False, **kwargs) -> None:
    if batch and batch_finished is not None:
        return  # counted with its whole batch, in one transaction, below
    # A failure here must never break the ledger's own path: the catch-up sweep counts it later.
    try:
        roll_up_ended(execution)
    except Exception:
        logger.exception("could not roll up execution %s; the catch-up sweep will", execution.pk)


@receiver(budget_crossed, sender=Budget, dispatch_uid="observability.budget_mail")
def mail_budget_crossing(sender, budget, kind, message, **kwargs) -> None:
    notify_budget_crossing(budget=budget, kind=kind, message=message)


def roll_up_finished_batch(sender, executions, **kwargs) -> None:
    # The batch's rows as written (a finished row never changes): no read back of 1,000 rows.
    # Counted once all the same: roll_up_rows counts only the rows whose marker it inserts. Each
    # row's own field values (its __dict__, keyed by attribute name as FIELDS are) are only read.
    try:
        roll_up_rows([row.__dict__ for row in executions if row.status in TERMINAL])
    except Exception:
        logger.exception(
            "could not roll up a batch of %s executions; the catch-up sweep will", len(executions)
        )


if batch_finished is not None:
    batch_finished.connect(roll_up_finished_batch, dispatch_uid="observability.roll_up_batch")


@receiver(signals.cost_corrected, dispatch_uid="observability.apply_correction")
def apply_cost_correction(sender, correction, **kwargs) -> None:
    try:
        apply_corrections([correction.pk])
    except Exception:
        logger.exception("could not apply cost correction %s; the catch-up sweep will", correction.pk)
