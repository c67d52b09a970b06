from decimal import Decimal

import pytest

from executions.services import start_execution
from governance.models import Budget, BudgetPeriod, BudgetReservation
from governance.policies import create_policy


@pytest.mark.django_db
def test_a_start_holds_the_policy_cap_before_the_agents_own_figure(business, agent, make_member):
    admin = make_member("admin", business)
    agent.max_cost_per_execution_usd = Decimal("0.10")
    agent.save(update_fields=["max_cost_per_execution_usd"])
    Budget.objects.create(business=business, period=BudgetPeriod.MONTH, limit_usd=Decimal("1.00"))
    create_policy(
        business=business, agent_id=agent.pk, actor=admin, max_cost_per_execution_usd=Decimal("0.60")
    )

    execution = start_execution(agent=agent, trigger="manual", input={}, actor=admin)

    reservation = BudgetReservation.objects.get(ref=f"execution:{execution.pk}")
    assert reservation.estimate_usd == Decimal("0.60")
