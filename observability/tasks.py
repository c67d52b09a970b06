"""Celery entry points: each loads fresh rows and calls a service."""

from celery import shared_task

from observability import rollups


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660, expires=600)
def catch_up_rollups() -> int:
    return rollups.catch_up()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def roll_up_execution(execution_id: int) -> bool:
    return rollups.roll_up_execution(execution_id)
