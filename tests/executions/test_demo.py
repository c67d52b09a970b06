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
    assert context["stdout"].getvalue().endswith("Executions: 0 demo executions over the past 14 days")
