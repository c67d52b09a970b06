"""Reads for the API, the admin and the pages: budgets with their live spend, the audit trail."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from governance import windows
from governance.access import is_agent, visible_businesses
from governance.models import AuditEntry, Budget, BudgetPeriod, BudgetWindow, Membership
from governance.roles import RANK, Role

MICRO = Decimal("0.000001")


@dataclass(frozen=True)
class Spend:
    """A budget's current window, whether or not anything has been spent in it yet."""

    window_start: datetime
    window_end: datetime | None
    spent_usd: Decimal
    reserved_usd: Decimal
    limit_usd: Decimal
    soft_limit_usd: Decimal
    projected_usd: Decimal | None
    counts_since: datetime | None = None  # the budget began inside this window: spend before is not in it

    @property
    def remaining_usd(self) -> Decimal:
        return max(self.limit_usd - self.spent_usd - self.reserved_usd, Decimal(0))

    @property
    def used_pct(self) -> float:
        if not self.limit_usd:
            return 100.0
        return round(float(self.spent_usd / self.limit_usd * 100), 2)

    @property
    def state(self) -> str:
        if self.spent_usd >= self.limit_usd:
            return "exceeded"
        if self.spent_usd >= self.soft_limit_usd:
            return "soft_limit"
        return "ok"


# Where each budget's burn rate (dollars per hour) comes from. The rollups (observability) install
# their trailing rate at start-up, so the budgets API, the settings page and the costs page project
# a budget the same way; without them, the pace seen so far in the window.
BurnRates = Callable[[list[Budget], datetime], dict[int, Decimal]]
_burn_rates: BurnRates | None = None


def use_burn_rates(source: BurnRates | None) -> None:
    global _burn_rates
    _burn_rates = source


def projected(*, spent: Decimal, burn_per_hour: Decimal, end: datetime, now: datetime) -> Decimal:
    """Spend at ``end`` if it goes on at ``burn_per_hour``: the one projection rule."""
    hours = Decimal(max((end - now).total_seconds(), 0)) / Decimal(3600)
    return spent + burn_per_hour * hours


def _projection(
    budget: Budget, spent: Decimal, start: datetime, end: datetime, now: datetime, burn: Decimal | None = None
) -> Decimal | None:
    """Spend at the window's end (None for ``total``): at the installed burn rate, else at the pace
    seen so far in the window."""
    if budget.period == BudgetPeriod.TOTAL:
        return None
    if burn is not None:
        return projected(spent=spent, burn_per_hour=burn, end=end, now=now).quantize(MICRO)
    elapsed = (now - start).total_seconds()
    if elapsed < 3600:  # an hour's data says little about a month
        return None
    return (spent * Decimal((end - start).total_seconds() / elapsed)).quantize(MICRO)


def live_spend(budgets: list[Budget], now: datetime | None = None) -> dict[int, Spend]:
    """The current window of each budget, in one query whatever the number of budgets.

    The budgets must come with ``select_related("business")`` (windows follow its time zone).
    """
    now = now or timezone.now()
    burns = _burn_rates(budgets, now) if _burn_rates and budgets else {}
    rows = {
        w.budget_id: w
        for w in BudgetWindow.objects.filter(
            budget__in=[b.pk for b in budgets], window_start__lte=now, window_end__gt=now
        )
    }
    result = {}
    for budget in budgets:
        start, end = windows.bounds(budget.period, budget.business.timezone, now)
        row = rows.get(budget.pk)
        spent = row.spent_usd if row else Decimal(0)
        result[budget.pk] = Spend(
            window_start=start,
            window_end=None if budget.period == BudgetPeriod.TOTAL else end,
            spent_usd=spent,
            reserved_usd=row.reserved_usd if row else Decimal(0),
            limit_usd=budget.limit_usd,
            soft_limit_usd=budget.soft_limit_usd,
            projected_usd=_projection(budget, spent, start, end, now, burns.get(budget.pk)),
            counts_since=budget.created_at if budget.created_at > start else None,
        )
    return result


def budgets_for(user) -> QuerySet[Budget]:
    return Budget.objects.filter(business__in=visible_businesses(user)).select_related("business")


def businesses_with_role(user, role: str) -> list[int] | None:
    """Ids of the businesses where ``user`` has at least ``role``; None means all (superuser)."""
    if is_agent(user):
        return []
    if user.is_superuser:
        return None
    roles = [r for r, rank in RANK.items() if rank >= RANK[role]]
    return list(Membership.objects.filter(user=user, role__in=roles).values_list("business_id", flat=True))


def audit_for(user, business_id: int | None = None) -> QuerySet[AuditEntry]:
    """Audit entries an admin may read: their businesses' (and everything, global ones included,
    for a superuser)."""
    entries = AuditEntry.objects.select_related("business")
    if business_id is not None:
        return entries.filter(business_id=business_id)
    scope = businesses_with_role(user, Role.ADMIN)
    if scope is None:
        return entries
    return entries.filter(Q(business_id__in=scope))


def alert_recipients(*, business_id: int) -> list[str]:
    """Who is mailed when the business's budgets cross a threshold: its owners and admins."""
    return list(
        Membership.objects.filter(business_id=business_id, role__in=[Role.OWNER, Role.ADMIN])
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )


def agent_business_id(agent_id: int) -> int | None:
    """The business an agent id belongs to, or None. Read through the app registry, not an import:
    agents sit above governance, which stores agent ids as plain numbers."""
    from django.apps import apps

    try:
        agent_model = apps.get_model("agents", "Agent")
    except LookupError:
        return None
    return agent_model.objects.filter(pk=agent_id).values_list("business_id", flat=True).first()
