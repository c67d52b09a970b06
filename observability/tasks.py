"""Celery entry points: each loads fresh rows and calls a service."""

from celery import shared_task

from observability import alerts, anomalies, corrections, notify, rollups


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660, expires=600)
def catch_up_rollups() -> int:
    return rollups.catch_up() + corrections.catch_up_corrections()


@shared_task(bind=True, acks_late=True, max_retries=notify.MAX_ATTEMPTS, soft_time_limit=30, time_limit=60)
def deliver_notification(self, notification_id: int) -> str:
    try:
        return notify.deliver(notification_id)
    except notify.DeliveryFailed as exc:
        raise self.retry(exc=exc, countdown=min(600, 15 * 2**self.request.retries)) from exc


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150, expires=120)
def evaluate_alerts() -> dict:
    return alerts.evaluate()


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660, expires=900)
def detect_anomalies() -> int:
    return len(anomalies.detect())
