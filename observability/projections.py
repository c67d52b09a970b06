"""Month-end cost projection per business, and per budget at the end of its window.

The projection is linear on the trailing burn rate: spend so far plus (cost over the last 7 days,
per hour) times the hours left. Spend so far is the budget's own window (what enforcement counts);
for the business's month it is the rollups since the local first of the month.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from governance.models import Budget, BudgetWindow, Business
from governance.selectors import projected as project
from governance.windows import bounds
from observability.dashboards import Scope, money, window_rows
from observability.models import cost_from_e8
from observability.rollups import HOUR, floor_hour

TRAILING = timedelta(days=7)


def _hours(delta: timedelta) -> Decimal:
    return Decimal(delta.total_seconds()) / Decimal(3600)


def month_end(scope: Scope, *, now: datetime | None = None) -> dict:
    """A fixed number of queries whatever the number of businesses, agents and budgets."""
    now = now or timezone.now()
    businesses = list(Business.objects.filter(scope.filter("pk")).order_by("name"))
    months = {b.pk: bounds("month", b.timezone, now) for b in businesses}
    trailing_since = floor_hour(now) - TRAILING + HOUR
    burn_span = _hours(now - trailing_since)
    figures = _figures(businesses, months, trailing_since, now)
    budgets_by_business = _budgets(scope, businesses, now)
    results = []
    for business in businesses:
        start, end = months[business.pk]
        rows = [r for r in figures if r["business_id"] == business.pk]
        mtd = cost_from_e8(sum(r["mtd"] or 0 for r in rows))
        burn = cost_from_e8(sum(r["trailing"] or 0 for r in rows)) / burn_span
        results.append(
            {
                "business": business.slug,
                "timezone": business.timezone,
                "month_start": start,
                "month_end": end,
                "month_to_date_usd": money(mtd),
                "burn_rate_usd_per_hour": money(burn),
                "projected_month_end_usd": money(project(spent=mtd, burn_per_hour=burn, end=end, now=now)),
                "budgets": [
                    _project_budget(budget, window, rows, burn_span, now, end, business.timezone)
                    for budget, window in budgets_by_business.get(business.pk, [])
                ],
            }
        )
    return {"as_of": now, "trailing_window": "7d", "results": results}


def _figures(businesses: list, months: dict, trailing_since: datetime, now: datetime) -> list[dict]:
    """Per business, agent and model: the trailing cost and the month-to-date cost (rollups)."""
    if not businesses:
        return []
    group, fields = ("business_id", "agent_id", "model"), ("cost_e8",)
    every = Scope(business=None, business_ids=[b.pk for b in businesses])
    trailing = window_rows(every, trailing_since, group=group, fields=fields, now=now)
    by_start: dict[datetime, list[int]] = {}
    for business in businesses:
        by_start.setdefault(floor_hour(months[business.pk][0]), []).append(business.pk)
    month: dict[tuple, dict] = {}
    for start, ids in by_start.items():  # one pass per distinct month start (per time zone)
        month.update(
            window_rows(Scope(business=None, business_ids=ids), start, group=group, fields=fields, now=now)
        )
    return [
        {
            **dict(zip(group, key, strict=True)),
            "trailing": trailing.get(key, {}).get("cost_e8", 0),
            "mtd": month.get(key, {}).get("cost_e8", 0),
        }
        for key in trailing.keys() | month.keys()
    ]


def _budgets(scope: Scope, businesses: list, now: datetime) -> dict[int, list]:
    if not businesses:
        return {}
    budgets = list(
        Budget.objects.filter(scope.filter(), enabled=True).order_by(
            F("agent_id").asc(nulls_first=True), "model", "pk"
        )
    )
    windows = {
        w.budget_id: w
        for w in BudgetWindow.objects.filter(
            budget_id__in=[b.pk for b in budgets], window_start__lte=now, window_end__gt=now
        )
    }
    found: dict[int, list] = {}
    for budget in budgets:
        found.setdefault(budget.business_id, []).append((budget, windows.get(budget.pk)))
    return found


def _burn(budget, rows: list[dict], burn_span: Decimal, key: str = "trailing") -> Decimal:
    """The trailing cost per hour of the work a budget covers (its business, agent, model)."""
    in_scope = [
        r
        for r in rows
        if r["business_id"] == budget.business_id
        and (budget.agent_id is None or r["agent_id"] == budget.agent_id)
        and (not budget.model or (r["model"] or "").lower() == budget.model.lower())
    ]
    return cost_from_e8(sum(r[key] or 0 for r in in_scope)) / burn_span


def burn_rates(budgets: list, now: datetime) -> dict[int, Decimal]:
    """Each budget's trailing burn rate: what governance projects its budgets with (installed by
    ``ObservabilityConfig.ready``), so every page and endpoint projects a budget alike."""
    if not budgets:
        return {}
    trailing_since = floor_hour(now) - TRAILING + HOUR
    every = Scope(business=None, business_ids=sorted({b.business_id for b in budgets}))
    group = ("business_id", "agent_id", "model")
    found = window_rows(every, trailing_since, group=group, fields=("cost_e8",), now=now)
    rows = [
        {**dict(zip(group, key, strict=True)), "cost_e8": row.get("cost_e8")} for key, row in found.items()
    ]
    return {b.pk: _burn(b, rows, _hours(now - trailing_since), key="cost_e8") for b in budgets}


def _project_budget(
    budget, window, rows: list[dict], burn_span: Decimal, now: datetime, month_end_at: datetime, tz: str
) -> dict:
    start, end = (window.window_start, window.window_end) if window else bounds(budget.period, tz, now)
    if budget.period == "total":
        end = month_end_at  # a total budget never renews: project it to the month's end
    burn = _burn(budget, rows, burn_span)
    spent = window.spent_usd if window else Decimal(0)
    reserved = window.reserved_usd if window else Decimal(0)
    projected = project(spent=spent, burn_per_hour=burn, end=end, now=now)
    limit = budget.limit_usd
    return {
        "budget": budget.pk,
        # A budget counts only what was spent while it existed: say so when it began inside its window.
        "counts_since": budget.created_at if budget.created_at > start else None,
        "agent": budget.agent_id,
        "model": budget.model,
        "period": budget.period,
        "limit_usd": money(limit),
        "soft_limit_usd": money(limit * budget.soft_limit_pct / 100),
        "window_start": start,
        "window_end": None if budget.period == "total" else end,
        "spent_usd": money(spent),
        "reserved_usd": money(reserved),
        "remaining_usd": money(max(Decimal(0), limit - spent - reserved)),
        "burn_rate_usd_per_hour": money(burn),
        "projected_at": end,
        "projected_usd": money(projected),
        "projected_pct": float((projected * 100 / limit).quantize(Decimal("0.01"))) if limit else None,
        "will_pass_soft_limit": projected >= limit * budget.soft_limit_pct / 100,
        "will_exceed": projected > limit,
    }
