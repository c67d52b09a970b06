from decimal import Decimal

import pytest

from governance import budgets
from governance.models import BudgetReservation, BudgetWindow, ReservationStatus
from mission_control.errors import DomainError
from mission_control.models import Event

D = Decimal


def window(budget) -> BudgetWindow:
    return BudgetWindow.objects.get(budget=budget)


@pytest.mark.django_db
def test_it_reserves_against_every_budget_in_scope(business, agent, make_budget):
    business_budget = make_budget("10")
    agent_budget = make_budget("5", agent_id=agent.pk)
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=D("2"))
    assert window(business_budget).reserved_usd == D("2")
    assert window(agent_budget).reserved_usd == D("2")
    assert BudgetReservation.objects.get(ref="execution:1").lines.count() == 2


@pytest.mark.django_db
def test_it_refuses_an_estimate_the_budget_cannot_cover_and_holds_nothing(business, agent, make_budget):
    roomy = make_budget("100")
    tight = make_budget("1", agent_id=agent.pk)
    with pytest.raises(DomainError) as refused:
        budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=D("1.5"))
    assert (refused.value.status, refused.value.code) == (402, "budget_exceeded")
    assert refused.value.extra["budget"] == tight.pk
    assert not BudgetReservation.objects.exists()
    assert not BudgetWindow.objects.filter(budget=roomy, reserved_usd__gt=0).exists()


@pytest.mark.django_db
def test_it_ignores_other_agents_and_other_models_budgets(business, agent, make_budget):
    make_budget("0.5", agent_id=agent.pk + 1000)
    make_budget("0.5", model="gpt-4o")
    budgets.reserve(business=business, agent_id=agent.pk, ref="r", estimate=D("1"), model="claude-sonnet-4")
    assert BudgetReservation.objects.get(ref="r").lines.count() == 0


@pytest.mark.django_db
def test_a_model_budget_applies_to_work_with_that_model(business, agent, make_budget):
    make_budget("0.5", model="gpt-4o")
    with pytest.raises(DomainError):
        budgets.reserve(business=business, agent_id=agent.pk, ref="r", estimate=D("1"), model="GPT-4o")


@pytest.mark.django_db
def test_settle_books_the_actual_and_frees_the_rest(business, agent, make_budget):
    budget = make_budget("10")
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=D("3"))
    budgets.settle(business=business, agent_id=agent.pk, ref="execution:1", actual=D("0.000315"))
    row = window(budget)
    assert (row.spent_usd, row.reserved_usd) == (D("0.000315"), 0)
    reservation = BudgetReservation.objects.get(ref="execution:1")
    assert (reservation.status, reservation.actual_usd) == (ReservationStatus.SETTLED, D("0.000315"))


@pytest.mark.django_db
def test_settle_is_idempotent_per_ref(business, agent, make_budget):
    budget = make_budget("10")
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=D("3"))
    for _ in range(3):
        budgets.settle(business=business, agent_id=agent.pk, ref="execution:1", actual=D("1"))
    assert window(budget).spent_usd == D("1")
    assert window(budget).reserved_usd == 0


@pytest.mark.django_db
def test_settle_books_work_reported_after_the_fact_even_over_budget(business, agent, make_budget):
    budget = make_budget("1")
    budgets.settle(business=business, agent_id=agent.pk, ref="execution:9", actual=D("4.5"))
    budgets.settle(business=business, agent_id=agent.pk, ref="execution:9", actual=D("4.5"))
    assert window(budget).spent_usd == D("4.5")


@pytest.mark.django_db
def test_settle_books_a_model_budget_learnt_only_at_the_end(business, agent, make_budget):
    model_budget = make_budget("10", model="gpt-4o")
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=D("1"))
    budgets.settle(business=business, agent_id=agent.pk, ref="execution:1", actual=D("2"), model="gpt-4o")
    assert window(model_budget).spent_usd == D("2")


@pytest.mark.django_db
def test_release_frees_the_reservation_of_work_that_never_ran(business, agent, make_budget):
    budget = make_budget("10")
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=D("3"))
    budgets.release(ref="execution:1")
    budgets.release(ref="execution:1")
    budgets.release(ref="execution:unknown")
    assert window(budget).reserved_usd == 0
    assert BudgetReservation.objects.get(ref="execution:1").status == ReservationStatus.RELEASED


@pytest.mark.django_db
def test_reserve_is_idempotent_per_ref(business, agent, make_budget):
    budget = make_budget("10")
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=D("3"))
    budgets.reserve(business=business, agent_id=agent.pk, ref="execution:1", estimate=D("3"))
    assert window(budget).reserved_usd == D("3")


@pytest.mark.django_db
def test_an_exhausted_budget_refuses_even_a_zero_estimate(business, agent, make_budget):
    make_budget("1")
    budgets.settle(business=business, agent_id=agent.pk, ref="a", actual=D("1"))
    with pytest.raises(DomainError):
        budgets.reserve(business=business, agent_id=agent.pk, ref="b", estimate=D("0"))


@pytest.mark.django_db
def test_crossing_the_soft_limit_and_the_limit_publish_one_event_each_per_window(
    business, agent, make_budget, mailoutbox, make_member, django_capture_on_commit_callbacks
):
    make_member("owner", business, email="boss@example.com")
    make_budget("10", soft_limit_pct=50)
    with django_capture_on_commit_callbacks(execute=True):
        for i, cost in enumerate(["3", "3", "1", "4", "2"]):
            budgets.settle(business=business, agent_id=agent.pk, ref=f"e{i}", actual=D(cost))
    kinds = list(
        Event.objects.filter(kind__startswith="budget.").order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["budget.soft_limit", "budget.exceeded"]
    assert len(mailoutbox) == 2
    assert mailoutbox[0].to == ["boss@example.com"]


def _booked(ref: str) -> tuple:
    reservation = BudgetReservation.objects.get(ref=ref)
    lines = sorted(
        (line.window.budget_id, line.amount_usd, line.spent_usd) for line in reservation.lines.all()
    )
    return (reservation.status, reservation.actual_usd, reservation.model, reservation.agent_id, lines)


@pytest.mark.django_db
def test_booking_unreserved_work_leaves_what_settling_an_unknown_ref_leaves(business, agent, make_budget):
    business_budget = make_budget("1")
    agent_budget = make_budget("10", agent_id=agent.pk)
    model_budget = make_budget("10", model="gpt-4o")
    make_budget("10", model="claude-sonnet-4")  # not in scope
    budgets.settle(business=business, agent_id=agent.pk, ref="execution:1", actual=D("0.75"), model="gpt-4o")
    budgets.book_unreserved(
        business=business, agent_id=agent.pk, ref="execution:2", actual=D("0.75"), model="gpt-4o"
    )
    assert _booked("execution:1") == _booked("execution:2")
    assert [len(_booked(ref)[4]) for ref in ("execution:1", "execution:2")] == [3, 3]
    for budget in (business_budget, agent_budget, model_budget):
        assert (window(budget).spent_usd, window(budget).reserved_usd) == (D("1.5"), 0)
    # The business budget crossed its limit on the second booking: announced once.
    assert Event.objects.filter(kind="budget.exceeded", data__budget=business_budget.pk).count() == 1


@pytest.mark.django_db
def test_booking_unreserved_work_twice_under_one_ref_is_refused(business, agent, make_budget):
    from django.db import IntegrityError, transaction

    budget = make_budget("10")
    budgets.book_unreserved(business=business, agent_id=agent.pk, ref="execution:3", actual=D("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        budgets.book_unreserved(business=business, agent_id=agent.pk, ref="execution:3", actual=D("1"))
    assert window(budget).spent_usd == D("1")
