"""Racing starts against PostgreSQL row locks: a budget is never overspent."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from governance import budgets
from governance.models import BudgetReservation, BudgetWindow
from mission_control.errors import DomainError

THREADS = 24


def race(business, agent_id: int, estimate: Decimal, refs: list[str]) -> list[str]:
    outcomes: list[str] = []
    gate = threading.Barrier(len(refs))

    def start(ref: str) -> None:
        try:
            gate.wait()
            budgets.reserve(business=business, agent_id=agent_id, ref=ref, estimate=estimate)
            outcomes.append("ok")
        except DomainError as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(ref,)) for ref in refs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_reserves_never_overspend(business, agent, make_budget):
    budget = make_budget("1.00")
    outcomes = race(business, agent.pk, Decimal("0.15"), [f"execution:{i}" for i in range(THREADS)])
    assert outcomes.count("ok") == 6  # 6 x 0.15 = 0.90; a 7th would make 1.05
    assert outcomes.count("budget_exceeded") == THREADS - 6
    window = BudgetWindow.objects.get(budget=budget)
    assert window.reserved_usd == Decimal("0.90")
    assert BudgetReservation.objects.count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_reserves_hold_every_budget_in_scope_or_none(business, agent, make_budget):
    business_budget = make_budget("1.00")
    agent_budget = make_budget("0.50", agent_id=agent.pk)
    outcomes = race(business, agent.pk, Decimal("0.10"), [f"e{i}" for i in range(THREADS)])
    assert outcomes.count("ok") == 5
    assert BudgetWindow.objects.get(budget=agent_budget).reserved_usd == Decimal("0.50")
    assert BudgetWindow.objects.get(budget=business_budget).reserved_usd == Decimal("0.50")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_settles_of_one_ref_book_it_once(business, agent, make_budget):
    budget = make_budget("10")
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=Decimal("1"))
    gate = threading.Barrier(8)

    def settle():
        try:
            gate.wait()
            budgets.settle(business=business, agent_id=agent.pk, ref="execution:1", actual=Decimal("0.4"))
        finally:
            connection.close()

    threads = [threading.Thread(target=settle) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    window = BudgetWindow.objects.get(budget=budget)
    assert (window.spent_usd, window.reserved_usd) == (Decimal("0.4"), 0)
