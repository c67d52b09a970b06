"""Celery entry points of the agents app: they call services and hold no logic of their own."""

from celery import shared_task

from agents import heartbeats

SWEEP_EVERY_S = 15


# expires: a sweep that waited longer than its own interval is superseded by the next one.
@shared_task(acks_late=True, expires=SWEEP_EVERY_S, soft_time_limit=60, time_limit=90)
def sweep_presence() -> dict:
    """Publish ``agent.offline`` for agents that fell silent and ``agent.online`` for returns."""
    return heartbeats.sweep_presence()
