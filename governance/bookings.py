"""Work reported after it finished, booked many at once (a batch report).

What :func:`governance.budgets.settle` does for a ref that holds no reservation (a settled
reservation as the record, the actual cost booked in every budget in scope, a line per window),
for all of a batch's bookings with a fixed number of queries: the reservations in one INSERT, each
window updated once (in id order, the global lock order) with the sum booked there, the lines in
one INSERT. A ref already recorded (a retried batch) goes through ``settle``, which is idempotent.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from governance import budgets, windows
from governance.models import (
    Budget,
    BudgetReservation,
    BudgetWindow,
    Business,
    ReservationLine,
    ReservationStatus,
)


@dataclass(frozen=True)
class Booking:
    ref: str
    actual: Decimal
    model: str
    at: datetime  # when the work finished: the windows it counts in


def book_finished(*, business: Business, agent_id: int, bookings: list[Booking]) -> None:
    """Book finished work of one agent against every budget in scope; idempotent per ref."""
    if not bookings:
        return
    now = timezone.now()
    with transaction.atomic():
        taken = set(
            BudgetReservation.objects.filter(ref__in=[b.ref for b in bookings]).values_list("ref", flat=True)
        )
        fresh = [b for b in bookings if b.ref not in taken]
        if fresh:
            try:
                with transaction.atomic():
                    records = BudgetReservation.objects.bulk_create(
                        [_record(business, agent_id, booking, now) for booking in fresh]
                    )
            except IntegrityError:  # one of them recorded concurrently: each on its own
                taken.update(b.ref for b in fresh)
                fresh, records = [], []
            _book(business, agent_id, fresh, records, now)
        for booking in bookings:
            if booking.ref in taken:
                budgets.settle(
                    business=business,
                    agent_id=agent_id,
                    ref=booking.ref,
                    actual=booking.actual,
                    model=booking.model,
                    at=booking.at,
                )


def _record(business: Business, agent_id: int, booking: Booking, now) -> BudgetReservation:
    return BudgetReservation(
        ref=booking.ref,
        business=business,
        agent_id=agent_id,
        model=booking.model,
        status=ReservationStatus.SETTLED,
        actual_usd=budgets.money(booking.actual or 0),
        created_at=min(booking.at, now),
        closed_at=now,
    )


def _book(business: Business, agent_id: int, fresh: list[Booking], records: list, now) -> None:
    """Each booking's cost in its windows (settle's rule: the window containing when it finished)."""
    anyone = Q(agent_id__isnull=True) | Q(agent_id=agent_id)
    if not fresh or not Budget.objects.filter(anyone, business_id=business.pk, enabled=True).exists():
        return  # no budget of any model applies to this agent: the records are the whole booking
    scoped = {
        model: list(budgets.in_scope(business_id=business.pk, agent_id=agent_id, model=model))
        for model in {b.model for b in fresh}
    }
    found: dict[tuple[int, datetime], BudgetWindow] = {}
    totals: dict[int, Decimal] = {}
    lines = []
    for booking, record in zip(fresh, records, strict=True):
        booked_at = min(booking.at, now)
        for budget in scoped[booking.model]:
            start, _ = windows.bounds(budget.period, business.timezone, booked_at)
            window = found.get((budget.pk, start))
            if window is None:
                window = found[(budget.pk, start)] = budgets.window_for(budget, booked_at, business.timezone)
            totals[window.pk] = totals.get(window.pk, Decimal(0)) + record.actual_usd
            lines.append(
                ReservationLine(reservation=record, window=window, amount_usd=0, spent_usd=record.actual_usd)
            )
    for window_id in sorted(totals):
        BudgetWindow.objects.filter(pk=window_id).update(
            spent_usd=budgets._exact(F("spent_usd") + totals[window_id])
        )
    ReservationLine.objects.bulk_create(lines)
    if any(totals.values()):
        budgets._announce_crossings(sorted(w for w, total in totals.items() if total), now)
