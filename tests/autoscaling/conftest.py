from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Agent
from agents.services import create_agent
from autoscaling import services
from executions.services import start_execution


def online(agent: Agent) -> Agent:
    """As if it had just sent a heartbeat (its timeout is a day, so a moved clock keeps it online)."""
    now = timezone.now()
    Agent.objects.filter(pk=agent.pk).update(last_heartbeat=now, offline_after=now + timedelta(days=1))
    agent.refresh_from_db()
    return agent


@pytest.fixture
def worker(business):
    agent = create_agent(
        business=business,
        name="worker",
        capabilities=["summarise"],
        scale=1,
        max_scale=20,
        heartbeat_timeout_s=86400,
    )
    return online(agent)


@pytest.fixture
def policy(worker):
    return services.save_policy(
        agent=worker,
        actor="test",
        enabled=True,
        min_replicas=1,
        max_replicas=10,
        target_pending_per_replica=5,
        scale_up_window_s=0,
        scale_down_window_s=300,
        max_scale_up_step=4,
        max_scale_down_step=2,
        cooldown_s=0,
    )


def queue(agent: Agent, n: int) -> list:
    return [start_execution(agent=agent, trigger="manual", input={"i": i}) for i in range(n)]
