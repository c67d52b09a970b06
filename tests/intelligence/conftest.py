"""Constructed histories for the intelligence tests: executions written straight to the ledger (as
reports would leave them), with signal a model can learn before failures cluster."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from agents.services import create_agent
from executions.models import Execution

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
DAYS = 3
EVERY = timedelta(minutes=5)


def degrading(at: datetime, onsets: list[datetime]) -> tuple[float, float]:
    """(duration factor, failure probability): for an hour before each onset slower and slower and
    failing more often, then failing most of the time for 90 minutes."""
    for onset in onsets:
        before = (onset - at).total_seconds() / 60
        if 0 < before <= 60:
            ramp = (60 - before) / 60
            return 1 + 3 * ramp, 0.05 + 0.45 * ramp
        if -90 <= before <= 0:
            return 4.0, 0.8
    return 1.0, 0.05


def write_ledger(business, plan: dict, *, seed: int = 7, now: datetime = NOW, days: int = DAYS) -> int:
    """``plan``: {agent: onsets}; every agent runs every ~5 min for ``days`` up to ``now``."""
    rng = random.Random(seed)
    rows = []
    for agent, onsets in plan.items():
        at = now - timedelta(days=days)
        n = 0
        while at < now - timedelta(minutes=2):
            factor, p_fail = degrading(at, onsets)
            failed = rng.random() < p_fail
            duration = int(rng.lognormvariate(8.5, 0.25) * factor)
            started = at + timedelta(seconds=rng.uniform(0, 20))
            finished = started + timedelta(milliseconds=duration)
            rows.append(
                Execution(
                    business_id=business.pk,
                    agent=agent,
                    trigger="manual",
                    status="failed" if failed else "success",
                    external_id=f"t-{agent.pk}-{n}",
                    error_type=rng.choice(["timeout", "tool_error"]) if failed else "",
                    error="it failed" if failed else "",
                    created_at=started - timedelta(seconds=rng.uniform(0, 3)),
                    started_at=started,
                    finished_at=finished,
                    duration_ms=duration,
                    model="gpt-4o",
                    model_provider="openai",
                    input_tokens=int(800 * factor),
                    output_tokens=200,
                    total_tokens=int(800 * factor) + 200,
                )
            )
            at += EVERY
            n += 1
    Execution.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


@pytest.fixture
def fleet(business):
    return [create_agent(business=business, name=f"worker-{i}", capabilities=["work"]) for i in range(4)]


@pytest.fixture
def degrading_history(business, fleet):
    """Four agents over three days; each degrades, then fails, three times (at different hours)."""
    start = NOW - timedelta(days=DAYS)
    plan = {
        agent: [start + timedelta(hours=7 + 17 * k + 5 * i) for k in range(4)]
        for i, agent in enumerate(fleet)
    }
    write_ledger(business, plan)
    return plan
