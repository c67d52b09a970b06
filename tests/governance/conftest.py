from decimal import Decimal

import pytest

from governance.models import Budget, BudgetPeriod


@pytest.fixture
def make_budget(business):
    def make(limit="10", *, period=BudgetPeriod.MONTH, on=None, agent_id=None, model="", soft_limit_pct=80):
        return Budget.objects.create(
            business=on or business,
            agent_id=agent_id,
            model=model,
            period=period,
            limit_usd=Decimal(limit),
            soft_limit_pct=soft_limit_pct,
        )

    return make
