"""/agents and /agents/<id>."""

import pytest

from agents.services import create_agent, issue_key

pytestmark = pytest.mark.django_db


def test_it_lists_the_registry_of_the_users_businesses(viewer_page, agent, stranger_agent):
    body = viewer_page.get("/agents").content.decode()
    assert "coder-1" in body
    assert "their-agent" not in body


def test_it_filters_by_capability_and_status(viewer_page, business, agent):
    create_agent(business=business, name="writer", capabilities=["prose"])
    body = viewer_page.get("/agents?capability=prose&status=offline").content.decode()
    assert "writer" in body
    assert "coder-1" not in body


def test_the_registry_costs_a_fixed_number_of_queries(viewer_page, business, django_assert_max_num_queries):
    for i in range(25):
        create_agent(business=business, name=f"a{i}", capabilities=["x"])
    with django_assert_max_num_queries(7):
        assert viewer_page.get("/agents").status_code == 200


def test_it_shows_an_agent_with_keys_and_executions(page_as, agent, make_execution):
    key, _ = issue_key(agent=agent, name="prod")
    execution = make_execution(agent, status="failed")
    body = page_as("admin").get(f"/agents/{agent.pk}").content.decode()
    assert f"{key.prefix}…" in body
    assert f"#{execution.pk}" in body
    assert f'data-api-delete="/api/v1/agents/{agent.pk}/keys/{key.pk}"' in body


def test_viewers_see_no_lifecycle_or_key_controls(viewer_page, agent):
    body = viewer_page.get(f"/agents/{agent.pk}").content.decode()
    assert f"/api/v1/agents/{agent.pk}/stop" not in body
    assert "Issue a key" not in body


def test_it_answers_404_for_another_business_s_agent(viewer_page, stranger_agent):
    assert viewer_page.get(f"/agents/{stranger_agent.pk}").status_code == 404
    assert viewer_page.get("/agents/999999").status_code == 404


def test_an_agent_page_costs_a_fixed_number_of_queries(
    viewer_page, agent, make_execution, django_assert_max_num_queries
):
    for _ in range(10):
        make_execution(agent)
        issue_key(agent=agent)
    with django_assert_max_num_queries(17):  # 16, and the autoscaling section's policy read
        assert viewer_page.get(f"/agents/{agent.pk}").status_code == 200


def test_an_agent_page_shows_cost_and_utilisation_from_the_rollups(viewer_page, agent):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from executions.models import Execution
    from executions.signals import execution_finished

    now = timezone.now()
    execution = Execution.objects.create(
        business_id=agent.business_id,
        agent=agent,
        status="success",
        cost_usd=Decimal("2.50"),
        started_at=now - timedelta(minutes=30),
        finished_at=now - timedelta(minutes=1),
        duration_ms=29 * 60_000,
    )
    execution_finished.send(sender=Execution, execution=execution)
    body = viewer_page.get(f"/agents/{agent.pk}").content.decode()
    assert "Cost and utilisation" in body
    assert "$2.50" in body
