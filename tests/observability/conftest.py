"""Ledger rows for the observability tests, written straight to the table (as a report would)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from agents.services import create_agent
from executions.models import Execution
from executions.signals import execution_finished

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


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
