"""Celery entry points of autoscaling: they call services and hold no logic of their own."""

from celery import shared_task
from django.conf import settings

from autoscaling import services


# expires: a sweep that waited longer than its period is superseded by the next one; running it
# twice is harmless (one decision per agent per period).
@shared_task(acks_late=True, expires=settings.MC_AUTOSCALE_PERIOD_S, soft_time_limit=60, time_limit=90)
def evaluate_policies() -> dict:
    return services.evaluate_all()
