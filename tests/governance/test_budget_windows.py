"""Windows follow the business's time zone: a new local day, week or month is a new window."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from governance import budgets, windows
from governance.models import BudgetPeriod, BudgetWindow

D = Decimal
TOKYO = "Asia/Tokyo"  # UTC+9
NEW_YORK = "America/New_York"


def test_a_day_starts_at_local_midnight():
    start, end = windows.bounds(BudgetPeriod.DAY, TOKYO, datetime(2026, 3, 1, 14, 59, tzinfo=UTC))
    assert start == datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    start, _ = windows.bounds(BudgetPeriod.DAY, TOKYO, datetime(2026, 3, 1, 15, 0, tzinfo=UTC))
    assert start == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def test_a_week_starts_on_local_monday():
    # Sunday 23:30 in New York is already Monday in UTC.
    start, end = windows.bounds(BudgetPeriod.WEEK, NEW_YORK, datetime(2026, 3, 2, 4, 30, tzinfo=UTC))
    assert start == datetime(2026, 2, 23, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def test_a_month_window_spans_a_dst_change():
    start, end = windows.bounds(BudgetPeriod.MONTH, NEW_YORK, datetime(2026, 3, 20, tzinfo=UTC))
    assert start == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)  # EST
    assert end == datetime(2026, 4, 1, 4, 0, tzinfo=UTC)  # EDT


def test_a_total_window_never_ends():
    start, end = windows.bounds(BudgetPeriod.TOTAL, TOKYO, datetime(2026, 3, 20, tzinfo=UTC))
    assert start < datetime(2001, 1, 1, tzinfo=UTC) and end.year == 9999


@pytest.mark.django_db
def test_spend_moves_to_a_new_window_at_local_midnight_not_utc(business, agent, make_budget):
    business.timezone = TOKYO
    business.save()
    budget = make_budget("1", period=BudgetPeriod.DAY)
    with time_machine.travel(datetime(2026, 3, 1, 14, 50, tzinfo=UTC), tick=False):
        budgets.settle(business=business, agent_id=agent.pk, ref="a", actual=D("1"))
        assert budgets.exhausted_budget(business_id=business.pk, agent_id=agent.pk) == budget
    with time_machine.travel(datetime(2026, 3, 1, 15, 10, tzinfo=UTC), tick=False):
        # 00:10 in Tokyo: a fresh day, though still 1 March in UTC.
        assert budgets.exhausted_budget(business_id=business.pk, agent_id=agent.pk) is None
        budgets.reserve(business=business, agent_id=agent.pk, ref="b", estimate=D("0.9"))
    spent = dict(BudgetWindow.objects.values_list("window_start", "spent_usd"))
    assert spent == {
        datetime(2026, 2, 28, 15, tzinfo=UTC): D("1"),
        datetime(2026, 3, 1, 15, tzinfo=UTC): D("0"),
    }


@pytest.mark.django_db
def test_work_that_finishes_after_midnight_is_booked_in_the_window_it_finished(business, agent, make_budget):
    # The rollups count an execution in the hour it finished; the budget books it in the same
    # window, so the day's budget and the day's dashboard cost are one figure. The hold taken
    # before midnight is freed in the window that held it.
    business.timezone = NEW_YORK
    business.save()
    make_budget("5", period=BudgetPeriod.DAY)
    with time_machine.travel(datetime(2026, 6, 2, 3, 55, tzinfo=UTC), tick=False):  # 23:55 local
        budgets.reserve(business=business, agent_id=agent.pk, ref="late", estimate=D("1"))
    held = BudgetWindow.objects.get()
    assert held.window_start == datetime(2026, 6, 1, 4, tzinfo=UTC) and held.reserved_usd == D("1")
    with time_machine.travel(datetime(2026, 6, 2, 4, 5, tzinfo=UTC), tick=False):  # 00:05 local
        budgets.settle(business=business, agent_id=agent.pk, ref="late", actual=D("0.8"))
    rows = {w.window_start: (w.reserved_usd, w.spent_usd) for w in BudgetWindow.objects.all()}
    assert rows == {
        datetime(2026, 6, 1, 4, tzinfo=UTC): (D("0"), D("0")),
        datetime(2026, 6, 2, 4, tzinfo=UTC): (D("0"), D("0.8")),
    }
    from governance.reconcile import window_drift

    assert window_drift(BudgetWindow.objects.all()) == []


@pytest.mark.django_db
def test_each_window_alerts_once_of_its_own(business, agent, make_budget):
    from mission_control.models import Event

    business.timezone = TOKYO
    business.save()
    make_budget("1", period=BudgetPeriod.DAY, soft_limit_pct=100)
    for day, at in enumerate([datetime(2026, 3, 1, 3, tzinfo=UTC), datetime(2026, 3, 2, 3, tzinfo=UTC)]):
        with time_machine.travel(at, tick=False):
            for i in range(3):
                budgets.settle(business=business, agent_id=agent.pk, ref=f"d{day}-{i}", actual=D("0.6"))
    exceeded = Event.objects.filter(kind="budget.exceeded").order_by("id")
    assert [e.data["window_start"][:10] for e in exceeded] == ["2026-02-28", "2026-03-01"]
