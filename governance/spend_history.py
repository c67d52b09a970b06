"""Spend that happened without going through reserve and settle (a seeded or imported history),
booked into the budget windows it falls in, so that a budget's "spent" and the ledger's cost over
the same window are the same figure.

A budget counts only what was spent while it existed: an entry earlier than ``budget.created_at``
is left out (the pages say so when a budget started partway through its window).
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from governance import windows
from governance.budgets import _exact, money, window_for
from governance.models import Budget, BudgetWindow, Business


@transaction.atomic
def book_history(*, business: Business, entries: Iterable[tuple[int | None, str, datetime, Decimal]]) -> int:
    """Add each ``(agent_id, model, at, usd)`` to the window containing ``at`` of every enabled
    budget of ``business`` that covers it. Returns how many (budget, window) totals changed."""
    budgets = list(Budget.objects.filter(business=business, enabled=True))
    totals: dict[tuple[int, datetime], Decimal] = defaultdict(Decimal)
    by_pk = {b.pk: b for b in budgets}
    for agent_id, model, at, usd in entries:
        if not usd:
            continue
        for budget in budgets:
            if budget.agent_id is not None and budget.agent_id != agent_id:
                continue
            if budget.model and budget.model.lower() != (model or "").lower():
                continue
            if at < budget.created_at:
                continue
            start, _ = windows.bounds(budget.period, business.timezone, at)
            totals[(budget.pk, start)] += Decimal(usd)
    rows = sorted(
        ((window_for(by_pk[pk], start, business.timezone), amount) for (pk, start), amount in totals.items()),
        key=lambda pair: pair[0].pk,  # windows in id order, as reserve and settle lock them
    )
    for window, amount in rows:
        # Booked outside any reservation: it is part of the window's opening balance, which the
        # reconciliation (governance.reconcile) counts beside what settlements booked.
        BudgetWindow.objects.filter(pk=window.pk).update(
            spent_usd=_exact(F("spent_usd") + money(amount)),
            opening_spent_usd=_exact(F("opening_spent_usd") + money(amount)),
        )
    return len(rows)
