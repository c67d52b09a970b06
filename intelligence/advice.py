"""Advice from history: every detector over one business's last 30 days (``workflow_advice`` for steps,
``schedule_advice`` for cron jobs and hours), each returning what it would change with the figures
that justify it."""

from datetime import datetime

from agents.models import Agent
from intelligence import schedule_advice, workflow_advice
from intelligence.findings import WINDOW, Found


def detect(business_id: int, *, now: datetime) -> list[Found]:
    since = now - WINDOW
    workflows = workflow_advice.workflows_of(business_id)
    stats = workflow_advice.step_rows(business_id, since)
    names = dict(Agent.objects.filter(business_id=business_id).values_list("pk", "name"))
    return [
        *workflow_advice.futile_retries(workflows, stats),
        *workflow_advice.timeouts(workflows, stats),
        *workflow_advice.parallel_steps(workflows, stats),
        *workflow_advice.cheaper_agents(workflows, stats, names),
        *schedule_advice.cron_piles(business_id, since, now),
        *schedule_advice.failing_hours(business_id, since, names),
    ]
