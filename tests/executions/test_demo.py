from datetime import timedelta
from io import StringIO

import pytest
from django.utils import timezone

from executions import demo
from executions.models import Execution, ExecutionLog
from mission_control.models import Event


@pytest.mark.django_db
def test_it_seeds_two_weeks_of_priced_history_with_logs_once(make_agent, monkeypatch):
    monkeypatch.setattr(demo, "PER_AGENT", 40)
    agents = [make_agent("triage-bot"), make_agent("research-scout")]
    context = {"agents": agents, "stdout": StringIO()}
    demo.seed(context)
    demo.seed(context)  # idempotent
    rows = Execution.objects.all()
    assert rows.count() == 80
    assert {r.status for r in rows} <= {"success", "failed", "aborted"}
    assert rows.filter(status="failed").exists() and rows.filter(cost_source="computed").exists()
    oldest = rows.order_by("started_at").first().started_at
    assert timezone.now() - oldest <= timedelta(days=14)
    assert ExecutionLog.objects.count() >= 3 * 80
    assert Event.objects.filter(kind__startswith="execution.").count() == 80
    assert context["stdout"].getvalue().endswith("Executions: kept the existing demo history (80 executions)")
    # Outputs answer their prompts, and no cron work exists without a cron job behind it.
    for row in rows.filter(status="success")[:20]:
        assert row.output["answer"] and row.input["task"] in row.prompt
    assert not rows.filter(trigger="cron").exists()


@pytest.mark.django_db
def test_it_books_the_history_into_the_budgets_it_falls_in(make_agent, monkeypatch):
    from decimal import Decimal

    from django.db.models import Sum

    from governance.models import Budget, BudgetWindow

    monkeypatch.setattr(demo, "PER_AGENT", 30)
    agent = make_agent("triage-bot")
    month = Budget.objects.create(
        business=agent.business, period="total", limit_usd=100, created_at=timezone.now() - timedelta(days=30)
    )
    late = Budget.objects.create(business=agent.business, period="month", limit_usd=100, model="gpt-4o-mini")
    demo.seed({"agents": [agent], "stdout": StringIO()})
    total = Execution.objects.aggregate(s=Sum("cost_usd"))["s"]
    spent = BudgetWindow.objects.get(budget=month).spent_usd
    assert abs(spent - total) <= Decimal("0.00001") and spent > 0
    # A budget created now counts nothing of what came before it.
    assert not BudgetWindow.objects.filter(budget=late, spent_usd__gt=0).exists()
