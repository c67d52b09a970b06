"""/global/settings: governance at a glance."""

from decimal import Decimal

import pytest

from governance.audit import record
from governance.models import Budget, ExecutionPolicy

pytestmark = pytest.mark.django_db


def test_it_shows_budgets_with_live_spend_and_restrictions(viewer_page, business, agent):
    Budget.objects.create(business=business, period="month", limit_usd=Decimal("250"))
    ExecutionPolicy.objects.create(
        business=business, agent_id=agent.pk, allowed_models=["gpt-4o"], rate_limit="60/min"
    )
    body = viewer_page.get("/global/settings").content.decode()
    assert "$250.00" in body
    assert "gpt-4o" in body and "60/min" in body
    assert "agent coder-1" in body


def test_it_never_shows_another_business_s_budget(viewer_page, other_business):
    Budget.objects.create(business=other_business, period="day", limit_usd=Decimal("777"))
    assert "$777" not in viewer_page.get("/global/settings").content.decode()


def test_the_audit_log_is_for_admins_as_in_the_api(page_as, business):
    record(actor="olivia", action="budget.update", business=business, reason="quarter end")
    assert "quarter end" in page_as("admin").get("/global/settings").content.decode()
    operator = page_as("operator").get("/global/settings").content.decode()
    assert "quarter end" not in operator
    assert "needs the admin role" in operator


def test_it_costs_a_fixed_number_of_queries(page_as, business, agent, django_assert_max_num_queries):
    for period in ("day", "week", "month", "total"):
        Budget.objects.create(business=business, period=period, limit_usd=Decimal("10"))
    for i in range(20):
        record(actor="x", action=f"a.{i}", business=business, target_type="agent", target_id=agent.pk)
    client = page_as("admin")
    with django_assert_max_num_queries(17):  # audit targets named: one query per kind; burn rates: 2
        assert client.get("/global/settings").status_code == 200
