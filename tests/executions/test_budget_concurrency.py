"""Many agents starting, claiming and finishing work in one business at once, on PostgreSQL.

Issue 13 saw settles lose deadlocks against starts (the execution lock also locked the business
row) and the hold stay reserved for ever, and starts answer 503 "The database is unavailable".
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from executions.models import Execution
from governance.models import Budget, BudgetPeriod, BudgetWindow
from governance.roles import Role
from tests.conftest import agent_client, client_for

THREADS = 8
ROUNDS = 15


def _work(operator, agent_api, n: int, statuses: list[int], errors: list[dict]) -> None:
    """One thread: alternately an operator's run claimed by the agent, and the agent's own report."""
    agent_id = agent_api.agent.pk
    try:
        for i in range(ROUNDS):
            cost = f"0.0{1 + (n + i) % 9}"
            if i % 2:
                started = agent_api.post(
                    "/api/v1/executions/", {"status": "running", "model": "gpt-4o"}, format="json"
                )
                statuses.append(started.status_code)
                if started.status_code != 201:
                    errors.append(started.json())
                    continue
                pk = started.json()["id"]
            else:
                queued = operator.post(f"/api/v1/agents/{agent_id}/run", {"input": {"n": i}}, format="json")
                statuses.append(queued.status_code)
                if queued.status_code != 202:
                    errors.append(queued.json())
                    continue
                claimed = agent_api.post("/api/v1/agent/executions/claim", {"wait_seconds": 0}, format="json")
                statuses.append(claimed.status_code)
                if claimed.status_code != 200:
                    continue
                pk = claimed.json()["id"]
            done = agent_api.patch(
                f"/api/v1/executions/{pk}",
                {"status": "success", "cost_usd": cost, "input_tokens": 10, "output_tokens": 5},
                format="json",
            )
            statuses.append(done.status_code)
            if done.status_code != 200:
                errors.append(done.json())
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_leaves_nothing_reserved_and_spent_equal_to_the_ledger(business, make_member, make_agent):
    operator = client_for(make_member(Role.OPERATOR, business))
    agents = [
        make_agent(f"a{n}", mode="pull", max_cost_per_execution_usd=Decimal("0.50")) for n in range(THREADS)
    ]
    Budget.objects.create(business=business, period=BudgetPeriod.MONTH, limit_usd=Decimal("1000"))
    for agent in agents[:4]:
        Budget.objects.create(
            business=business, agent_id=agent.pk, period=BudgetPeriod.DAY, limit_usd=Decimal("100")
        )
    statuses: list[int] = []
    errors: list[dict] = []
    threads = [
        threading.Thread(target=_work, args=(operator, agent_client(agent), n, statuses, errors))
        for n, agent in enumerate(agents)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    assert errors == []
    assert [s for s in statuses if s >= 500] == []
    assert not Execution.objects.active().exists()
    ledger = Execution.objects.aggregate(s=Sum("cost_usd"))["s"]
    assert Execution.objects.count() == THREADS * ROUNDS
    business_window = BudgetWindow.objects.get(budget__agent_id__isnull=True)
    assert business_window.reserved_usd == 0
    assert business_window.spent_usd == ledger
    for window in BudgetWindow.objects.filter(budget__agent_id__isnull=False).select_related("budget"):
        assert window.reserved_usd == 0
        own = Execution.objects.filter(agent_id=window.budget.agent_id).aggregate(s=Sum("cost_usd"))["s"]
        assert window.spent_usd == own
