"""Celery entry points of the agents app: they call services and hold no logic of their own."""

from celery import shared_task

from agents import heartbeats, presence
from mission_control import control_versions

SWEEP_EVERY_S = 15


# expires: a sweep that waited longer than its own interval is superseded by the next one.
@shared_task(acks_late=True, expires=SWEEP_EVERY_S, soft_time_limit=60, time_limit=90)
def sweep_presence() -> dict:
    """Publish ``agent.offline`` for agents that fell silent and ``agent.online`` for returns."""
    return heartbeats.sweep_presence()


@shared_task(acks_late=True, expires=presence.FLUSH_S, soft_time_limit=30, time_limit=45)
def flush_presence() -> int:
    """Write the heartbeats buffered in Redis to the agents' rows (and pay owed counter bumps)."""
    control_versions.pay_owed()
    return presence.flush()
