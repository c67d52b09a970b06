"""The budget reconciliation sweep: leaked holds are settled, drifted windows repaired, and said."""

from decimal import Decimal

import pytest

from executions import budget_reconcile
from executions.lifecycle import budget_ref
from executions.models import Execution, Status
from executions.services import start_execution
from governance.models import AuditEntry, Budget, BudgetPeriod, BudgetReservation, BudgetWindow
from mission_control.models import Event
from mission_control.periodic import declared


@pytest.fixture
def budget(business):
    return Budget.objects.create(business=business, period=BudgetPeriod.MONTH, limit_usd=Decimal("100"))


@pytest.fixture
def held(make_agent, budget):
    """A pending execution holding $0.50."""
    agent = make_agent("holder", mode="pull", max_cost_per_execution_usd=Decimal("0.50"))
    return start_execution(agent=agent, trigger="manual")


def _lose_the_settle(execution, cost="0.20"):
    # What a swallowed settle left behind: the execution ended, its hold did not.
    Execution.objects.filter(pk=execution.pk).update(
        status=Status.SUCCESS, cost_usd=Decimal(cost), started_at=execution.created_at
    )


@pytest.mark.django_db
def test_it_settles_a_hold_whose_execution_ended(held, budget):
    _lose_the_settle(held)
    report = budget_reconcile.reconcile()
    assert report["leaked_holds"] == [held.pk]
    window = BudgetWindow.objects.get(budget=budget)
    assert (window.reserved_usd, window.spent_usd) == (0, Decimal("0.20"))
    assert BudgetReservation.objects.get(ref=budget_ref(held.pk)).status == "settled"


@pytest.mark.django_db
def test_it_reports_the_repair_as_an_event_and_an_audit_entry(held):
    _lose_the_settle(held)
    budget_reconcile.reconcile()
    event = Event.objects.get(kind="budget.reconciled")
    assert event.data["leaked_holds"] == [held.pk]
    assert AuditEntry.objects.filter(action="budget.reconcile", business=held.business).exists()


@pytest.mark.django_db
def test_it_finds_nothing_the_second_time(held):
    _lose_the_settle(held)
    budget_reconcile.reconcile()
    again = budget_reconcile.reconcile()
    assert (again["leaked_holds"], again["windows"]) == ([], [])
    assert Event.objects.filter(kind="budget.reconciled").count() == 1


@pytest.mark.django_db
def test_it_leaves_live_holds_alone(held, budget):
    report = budget_reconcile.reconcile()
    assert report == {"leaked_holds": [], "windows": [], "live_without_hold": [], "repaired": True}
    assert BudgetWindow.objects.get(budget=budget).reserved_usd == Decimal("0.50")


@pytest.mark.django_db
def test_it_repairs_a_window_whose_totals_drifted(held, budget):
    BudgetWindow.objects.filter(budget=budget).update(reserved_usd=Decimal("11.25"), spent_usd=Decimal("3"))
    report = budget_reconcile.reconcile()
    [drift] = report["windows"]
    assert (drift["reserved_usd"], drift["expected_reserved_usd"]) == ("11.250000", "0.500000")
    window = BudgetWindow.objects.get(budget=budget)
    assert (window.reserved_usd, window.spent_usd) == (Decimal("0.50"), 0)


@pytest.mark.django_db
def test_it_only_reports_when_asked_not_to_repair(held, budget):
    _lose_the_settle(held)
    report = budget_reconcile.reconcile(repair=False)
    assert report["leaked_holds"] == [held.pk]
    assert BudgetWindow.objects.get(budget=budget).reserved_usd == Decimal("0.50")


@pytest.mark.django_db
def test_it_names_live_work_that_holds_nothing(held):
    BudgetReservation.objects.filter(ref=budget_ref(held.pk)).delete()
    assert budget_reconcile.reconcile(repair=False)["live_without_hold"] == [held.pk]


def test_it_is_a_registered_periodic_sweep():
    assert ("executions.reconcile_budgets", "executions.tasks.reconcile_budgets", 300) in declared()


@pytest.mark.django_db
def test_it_counts_booked_history_as_the_opening_balance_not_drift(business, budget):
    from django.utils import timezone

    from governance.spend_history import book_history

    book_history(business=business, entries=[(None, "gpt-4o", timezone.now(), Decimal("2.50"))])
    assert budget_reconcile.reconcile()["windows"] == []
    assert BudgetWindow.objects.get(budget=budget).spent_usd == Decimal("2.50")
