"""Ledger rows for the observability tests, written straight to the table (as a report would)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from agents.services import create_agent
from executions.models import Execution
from executions.signals import execution_finished
from tests.conftest import agent_client


def at(hour: int, minute: int = 0, second: int = 0, day: int = 10) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def make_execution(agent):
    """``make_execution(status=..., started_at=..., finished_at=...)`` -> a ledger row, announced with
    ``execution_finished`` (as the ledger does after commit) when terminal, unless ``announce=False``."""

    def make(*, announce: bool = True, cost: str | Decimal = "0", **fields) -> Execution:
        fields.setdefault("agent", agent)
        fields.setdefault("business_id", fields["agent"].business_id)
        fields.setdefault("status", "success")
        fields.setdefault("model", "gpt-4o")
        if fields.get("started_at") and "created_at" not in fields:
            fields["created_at"] = fields["started_at"]
        tokens = fields.get("input_tokens", 0) + fields.get("output_tokens", 0)
        fields.setdefault("total_tokens", tokens)
        execution = Execution.objects.create(cost_usd=Decimal(cost), **fields)
        if announce and execution.is_terminal:
            execution_finished.send(sender=Execution, execution=execution)
        return execution

    return make


@pytest.fixture
def second_agent(business):
    return create_agent(business=business, name="writer-1", capabilities=["write"])


NOW = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)  # a Monday


@pytest.fixture
def ledger(agent, second_agent, other_business, make_execution):
    """coder-1 (online, active) and writer-1 (never seen): four executions in the window, one before."""
    with time_machine.travel(at(12, 29), tick=False):
        beat = agent_client(agent).post("/api/v1/agent/heartbeat", {"status": "active"}, format="json")
        assert beat.status_code == 200
    make_execution(
        trigger="cron",
        cron_job_id=3,
        started_at=at(10),
        finished_at=at(10, 30),
        duration_ms=1_800_000,
        input_tokens=1000,
        output_tokens=500,
        cache_read_tokens=100,
        cost="0.012",
    )
    make_execution(
        trigger="cron",
        cron_job_id=3,
        status="failed",
        started_at=at(11),
        finished_at=at(11, 10),
        duration_ms=600_000,
        input_tokens=200,
        cost="0.001",
    )
    make_execution(
        agent=second_agent,
        trigger="manual",
        model="claude-3-5",
        started_at=at(9, 50),
        finished_at=at(10, 20),
        duration_ms=1_800_000,
        input_tokens=3000,
        output_tokens=1000,
        cost="0.5",
    )
    make_execution(
        agent=second_agent,
        model="claude-3-5",
        status="aborted",
        started_at=at(12),
        finished_at=at(12, 5),
        duration_ms=300_000,
    )
    make_execution(
        started_at=at(12, 0, day=9), finished_at=at(12, 30, day=9), duration_ms=1_800_000, cost="100"
    )
    make_execution(status="running", started_at=at(12, 20))
    make_execution(status="pending", created_at=at(12, 25))
    make_execution(status="pending", created_at=at(12, 26))
    make_execution(agent=second_agent, status="pending", created_at=at(12, 27))
    theirs = create_agent(business=other_business, name="spy")
    make_execution(agent=theirs, started_at=at(11), finished_at=at(11, 1), cost="7")
    make_execution(agent=theirs, status="running", started_at=at(11))


@pytest.fixture
def travel():
    with time_machine.travel(NOW, tick=False):
        yield
