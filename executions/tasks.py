"""Celery entry points: they take ids, call a service, and hold no logic of their own."""

from celery import shared_task

from executions import abort, budget_reconcile, dispatch, partitions, timeouts


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=120,
    time_limit=180,
    ignore_result=True,
)
def dispatch_execution(execution_id: int) -> str:
    """Deliver a pending push execution. Idempotent: each attempt is won by a conditional UPDATE,
    so a redelivered or duplicated message does nothing (or the next attempt), never a second POST
    of the same attempt, and nothing at all once the execution left ``pending``."""
    return dispatch.deliver(execution_id)


@shared_task(acks_late=True, ignore_result=True, expires=60)
def sweep_timeouts() -> int:
    """Fail running executions past their start-to-close or heartbeat deadline."""
    return timeouts.fail_overdue()


@shared_task(acks_late=True, ignore_result=True, expires=60)
def sweep_aborts() -> int:
    """Mark aborted the running executions whose agent ignored an abort past the grace period."""
    return abort.force_overdue_aborts()


@shared_task(acks_late=True, ignore_result=True, expires=30)
def redispatch_stale() -> int:
    """Re-enqueue push deliveries that were lost (broker outage, killed worker)."""
    return dispatch.redispatch_stale()


@shared_task(acks_late=True, ignore_result=True, expires=300, soft_time_limit=240, time_limit=300)
def reconcile_budgets() -> dict:
    """Settle leaked budget holds and repair windows whose totals their lines do not prove."""
    return budget_reconcile.reconcile()


@shared_task(acks_late=True, ignore_result=True, expires=3600)
def ensure_partitions() -> list[str]:
    """Make the ledger's partitions for the current month and the next three (PostgreSQL)."""
    return partitions.ensure_partitions()
