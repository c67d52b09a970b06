"""Demo seed for governance: the admin, a demo business and its members, budgets and a policy."""

import os
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from governance.models import Budget, BudgetPeriod, Business, ExecutionPolicy, Membership
from governance.roles import Role

DEMO_PASSWORD = os.environ.get("MC_DEMO_PASSWORD", "mission-control")
# The demo's budgets predate its seeded history (two weeks) and the current month, so they count
# all of it: their spent is the ledger's cost over the same window.
BUDGETS_SINCE = timedelta(days=40)


def seed(context: dict) -> None:
    users = get_user_model().objects
    admin = users.filter(username="admin").first()
    if admin is None:
        admin = users.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
    business, _ = Business.objects.get_or_create(
        slug="demo", defaults={"name": "Demo Fleet", "timezone": "Europe/Paris"}
    )
    labs, _ = Business.objects.get_or_create(
        slug="labs", defaults={"name": "Research Labs", "timezone": "America/New_York"}
    )
    people = {"olivia": Role.OPERATOR, "victor": Role.VIEWER, "adele": Role.ADMIN}
    for username, role in people.items():
        user = users.filter(username=username).first() or users.create_user(
            username, f"{username}@example.com", DEMO_PASSWORD
        )
        Membership.objects.get_or_create(user=user, business=business, defaults={"role": role})
    for b in (business, labs):
        Membership.objects.get_or_create(user=admin, business=b, defaults={"role": Role.OWNER})
    _budgets_and_policy(business, labs)
    context.update(admin=admin, business=business, businesses=[business, labs])
    context["stdout"].write(
        f"  Sign in at /login/ as admin / {DEMO_PASSWORD} (superuser); also olivia (operator), "
        f"victor (viewer), adele (admin), same password."
    )


def _budgets_and_policy(demo: Business, labs: Business) -> None:
    """A month and a day budget for the demo fleet, a lifetime one for the labs, and a policy that
    caps each run (so starts reserve a real figure) and sets the fleet's request rate."""
    budgets = [
        (demo, BudgetPeriod.MONTH, Decimal("300"), 80),
        (demo, BudgetPeriod.DAY, Decimal("20"), 90),
        (labs, BudgetPeriod.TOTAL, Decimal("100"), 75),
    ]
    for business, period, limit, soft in budgets:
        Budget.objects.get_or_create(
            business=business,
            agent_id=None,
            model="",
            period=period,
            defaults={
                "limit_usd": limit,
                "soft_limit_pct": soft,
                "created_at": timezone.now() - BUDGETS_SINCE,
            },
        )
    ExecutionPolicy.objects.get_or_create(
        business=demo,
        agent_id=None,
        defaults={
            "allowed_triggers": ["manual", "cron", "autonomous", "webhook", "workflow"],
            "max_cost_per_execution_usd": Decimal("0.25"),
            "max_tokens_per_execution": 200_000,
            "rate_limit": "600/min",
        },
    )
