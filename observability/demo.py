"""Demo seed for observability: a few alert rules per demo business, and rollups of whatever the
earlier seeds put in the ledger (their executions may have been written without the signal)."""

from datetime import timedelta
from decimal import Decimal

from observability.models import AlertRule, RuleKind
from observability.rollups import catch_up

RULES = [
    ("Failing agents", RuleKind.FAILURE_RATE, Decimal("0.5"), 30),
    ("Spend over $5/h", RuleKind.COST_BURN, Decimal(5), 60),
    ("Agent offline", RuleKind.AGENT_OFFLINE, Decimal(0), 5),
    ("Cron missed a run", RuleKind.CRON_MISSED, Decimal(0), 60),
    ("Cron failing", RuleKind.CRON_FAILING, Decimal(0), 60),
    ("Budget soft limit", RuleKind.BUDGET_SOFT_LIMIT, Decimal(0), 60),
]


def seed(context: dict) -> None:
    for business in context.get("businesses", []):
        for name, kind, threshold, window in RULES:
            AlertRule.objects.get_or_create(
                business=business,
                name=name,
                defaults={
                    "kind": kind,
                    "threshold": threshold,
                    "window_minutes": window,
                    "created_by": "demo",
                },
            )
    counted = catch_up(settle=timedelta(0))
    rolled = f"{counted} executions rolled up" if counted else "rollups already up to date"
    context["stdout"].write(f"  {len(RULES)} alert rules per demo business; {rolled}.")
