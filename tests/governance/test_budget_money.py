from decimal import Decimal

import pytest

from governance import budgets
from governance.models import BudgetWindow


@pytest.mark.django_db
def test_it_frees_reservations_to_exactly_zero_whatever_the_database_arithmetic(make_budget, business, agent):
    # 0.7 + 0.1 - 0.7 - 0.1 is -1.3e-16 in floating point (SQLite's arithmetic): the window must
    # still end at zero reserved and pass its non-negative check.
    make_budget("100")
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=Decimal("0.7"))
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:2", estimate=Decimal("0.1"))
    budgets.settle(business=business, agent_id=agent.pk, ref="execution:1", actual=Decimal("0.7"))
    budgets.settle(business=business, agent_id=agent.pk, ref="execution:2", actual=Decimal("0.1"))
    window = BudgetWindow.objects.get()
    assert window.reserved_usd == Decimal(0)
    assert window.spent_usd == Decimal("0.8")
