"""Finished work booked many at once (a batch report): the same books as one settle per ref."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from governance import bookings, budgets, reconcile
from governance.models import BudgetPeriod, BudgetReservation, BudgetWindow, ReservationStatus

D = Decimal
JUNE_1 = datetime(2025, 6, 1, 10, tzinfo=UTC)
JUNE_2 = datetime(2025, 6, 2, 10, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def book(business, agent, *items):
    bookings.book_finished(
        business=business,
        agent_id=agent.pk,
        bookings=[
            bookings.Booking(ref=ref, actual=D(actual), model=model, at=at)
            for ref, actual, model, at in items
        ],
    )


def spent(budget) -> dict:
    return {
        w.window_start.date().isoformat(): w.spent_usd for w in BudgetWindow.objects.filter(budget=budget)
    }


def test_it_books_each_cost_in_the_windows_of_every_budget_in_scope(business, agent, make_budget):
    everything = make_budget("100", period=BudgetPeriod.DAY)
    gpt = make_budget("100", period=BudgetPeriod.DAY, model="gpt-4o")
    book(
        business,
        agent,
        ("a", "1.5", "gpt-4o", JUNE_1),
        ("b", "2", "claude", JUNE_1),
        ("c", "4", "GPT-4o", JUNE_2),
    )
    assert spent(everything) == {"2025-06-01": D("3.5"), "2025-06-02": D("4")}
    assert spent(gpt) == {"2025-06-01": D("1.5"), "2025-06-02": D("4")}
    assert set(BudgetReservation.objects.values_list("ref", "status", "actual_usd")) == {
        ("a", ReservationStatus.SETTLED, D("1.5")),
        ("b", ReservationStatus.SETTLED, D("2")),
        ("c", ReservationStatus.SETTLED, D("4")),
    }
    assert reconcile.window_drift(BudgetWindow.objects.all()) == []  # spent = what the lines booked


def test_it_books_what_one_settle_per_ref_books(business, agent, make_agent, make_budget):
    other = make_agent()
    by_settle, by_booking = make_budget("100", agent_id=other.pk), make_budget("100", agent_id=agent.pk)
    for ref, actual, model in (("1", "1.25", "gpt-4o"), ("2", "2", "x")):
        budgets.settle(
            business=business, agent_id=other.pk, ref=f"s{ref}", actual=D(actual), model=model, at=JUNE_1
        )
    book(business, agent, ("b1", "1.25", "gpt-4o", JUNE_1), ("b2", "2", "x", JUNE_1))
    assert spent(by_booking) == spent(by_settle) == {"2025-06-01": D("3.25")}
    lines = {
        who: sorted(
            BudgetReservation.objects.filter(agent_id=who.pk).values_list(
                "model", "lines__amount_usd", "lines__spent_usd"
            )
        )
        for who in (agent, other)
    }
    assert lines[agent] == lines[other]


def test_a_ref_booked_again_is_booked_once(business, agent, make_budget):
    budget = make_budget("100")
    book(business, agent, ("a", "1", "gpt-4o", JUNE_1))
    book(business, agent, ("a", "1", "gpt-4o", JUNE_1), ("b", "2", "gpt-4o", JUNE_1))
    assert spent(budget) == {"2025-06-01": D("3")}
    assert BudgetReservation.objects.count() == 2


def test_without_budgets_it_records_the_settlements_only(
    business, agent, make_budget, django_assert_num_queries
):
    make_budget("100", agent_id=agent.pk + 1000)  # another agent's
    # Two savepoints (the booking, the records), the refs taken, the records, any budget for the agent.
    with django_assert_num_queries(7):
        book(business, agent, ("a", "1", "gpt-4o", JUNE_1), ("b", "2", "claude", JUNE_2))
    assert BudgetReservation.objects.filter(status=ReservationStatus.SETTLED).count() == 2
    assert not BudgetWindow.objects.exists()
