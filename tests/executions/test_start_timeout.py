from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from executions.services import fail_overdue, start_execution
from governance.models import Budget, BudgetPeriod, BudgetReservation, BudgetWindow


@pytest.mark.django_db
def test_work_no_agent_takes_fails_and_frees_its_budget_hold(pull_agent, business, settings):
    settings.MC_START_TIMEOUT_S = 600
    Budget.objects.create(business=business, period=BudgetPeriod.TOTAL, limit_usd=Decimal("10"))
    pull_agent.max_cost_per_execution_usd = Decimal("2")
    pull_agent.save(update_fields=["max_cost_per_execution_usd"])
    execution = start_execution(agent=pull_agent, trigger="manual", input={})
    assert BudgetWindow.objects.get().reserved_usd == Decimal("2")

    assert fail_overdue() == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        assert fail_overdue() == 1

    execution.refresh_from_db()
    assert execution.status == "failed" and execution.error_type == "start_timeout"
    assert execution.error.startswith("Not started: no agent took it within 600 s")
    assert BudgetWindow.objects.get().reserved_usd == Decimal(0)
    assert BudgetReservation.objects.get(ref=f"execution:{execution.pk}").status == "settled"


@pytest.mark.django_db
def test_a_zero_start_timeout_waits_forever(pull_agent, settings):
    settings.MC_START_TIMEOUT_S = 0
    start_execution(agent=pull_agent, trigger="manual", input={})
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        assert fail_overdue() == 0
