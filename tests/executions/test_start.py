from decimal import Decimal

import pytest

from executions.estimates import estimate_for
from executions.models import Execution
from executions.services import start_execution
from governance.models import AuditEntry, Budget, BudgetReservation, ExecutionPolicy
from mission_control.errors import DomainError
from mission_control.models import Event
from tests.executions.conftest import finished, report


@pytest.mark.django_db
def test_it_queues_a_pending_execution_and_holds_its_budget(agent, make_member, business):
    operator = make_member("operator", business)
    execution = start_execution(agent=agent, trigger="manual", input={"q": 1}, actor=operator)
    assert (execution.status, execution.trigger, execution.input) == ("pending", "manual", {"q": 1})
    assert Event.objects.filter(kind="execution.queued", execution_id=execution.pk).exists()
    assert BudgetReservation.objects.get(ref=f"execution:{execution.pk}").status == "reserved"
    assert AuditEntry.objects.filter(action="execution.start", target_id=str(execution.pk)).exists()


@pytest.mark.django_db
def test_it_writes_nothing_when_governance_refuses(agent, business):
    from governance.stops import engage_emergency_stop

    engage_emergency_stop(business=business, reason="drill", actor="system")
    with pytest.raises(DomainError) as refused:
        start_execution(agent=agent, trigger="manual")
    assert refused.value.code == "emergency_stop"
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_it_refuses_work_a_budget_cannot_cover(agent, business):
    agent.max_cost_per_execution_usd = Decimal("5")
    agent.save()
    Budget.objects.create(business=business, period="day", limit_usd=Decimal("1"))
    with pytest.raises(DomainError) as refused:
        start_execution(agent=agent, trigger="manual")
    assert refused.value.status == 402 and refused.value.code == "budget_exceeded"
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_the_estimate_is_the_policy_cap_else_the_declared_maximum_else_the_p90_of_recent_costs(
    agent, agent_api
):
    assert estimate_for(agent) == Decimal(0)
    for cost in range(1, 11):
        report(agent_api, **finished(cost_usd=str(cost)))
    assert estimate_for(agent) == Decimal(9)
    agent.max_cost_per_execution_usd = Decimal("0.25")
    assert estimate_for(agent) == Decimal("0.25")
    ExecutionPolicy.objects.create(business=agent.business, max_cost_per_execution_usd=Decimal("2"))
    assert estimate_for(agent) == Decimal("2")  # the policy's cap first


@pytest.mark.django_db
def test_a_retry_policy_is_validated(agent):
    with pytest.raises(DomainError) as bad:
        start_execution(agent=agent, trigger="manual", retry_policy={"max_attempts": 0})
    assert bad.value.extra["fields"] == {"retry_policy": {"max_attempts": ["An integer from 1 to 100."]}}
    policy = start_execution(agent=agent, trigger="manual", retry_policy={"max_attempts": 3}).retry_policy
    assert policy["max_attempts"] == 3 and policy["backoff"] == 2.0
