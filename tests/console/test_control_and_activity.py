"""/control and /global/activity."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.models import EmergencyStop
from mission_control.events import publish

pytestmark = pytest.mark.django_db


def test_control_shows_work_in_flight_and_recent_failures(operator_page, agent, make_execution):
    running = make_execution(agent, status="running")
    failed = make_execution(agent, status="failed", error="tool timed out", finished_at=timezone.now())
    body = operator_page.get("/control").content.decode()
    assert f"/api/v1/executions/{running.pk}/abort" in body
    assert "tool timed out" in body
    assert f"/api/v1/executions/{failed.pk}/replay" in body


def test_control_forgets_failures_older_than_a_day(viewer_page, agent, make_execution):
    make_execution(agent, status="failed", error="ancient", finished_at=timezone.now() - timedelta(hours=25))
    assert "ancient" not in viewer_page.get("/control").content.decode()


def test_control_shows_an_engaged_stop_and_who_may_release_it(page_as, business):
    EmergencyStop.objects.create(business=business, reason="runaway spend", engaged_by="olivia")
    operator = page_as("operator").get("/control").content.decode()
    owner = page_as("owner").get("/control").content.decode()
    assert "runaway spend" in operator
    assert "Release the stop" not in operator
    assert "Release the stop" in owner


def test_control_hides_the_stop_button_from_viewers(viewer_page):
    assert "Engage emergency stop" not in viewer_page.get("/control").content.decode()


def test_control_never_shows_another_business(viewer_page, stranger_agent, make_execution):
    make_execution(stranger_agent, status="running")
    body = viewer_page.get("/control").content.decode()
    assert "their-agent" not in body
    assert "Nothing running or queued" in body


def test_control_panels_reload_alone_for_htmx(viewer_page, agent):
    response = viewer_page.get("/control?panel=agents", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="panel-agents"')
    assert "<html" not in body


def test_control_costs_a_fixed_number_of_queries(
    operator_page, business, agent, make_execution, django_assert_max_num_queries
):
    from agents.services import create_agent

    for i in range(20):
        create_agent(business=business, name=f"w{i}")
        make_execution(agent, status="running")
        make_execution(agent, status="failed")
    # 18, and 2 for the at-risk panel (its scores, the model versions)
    with django_assert_max_num_queries(20):
        assert operator_page.get("/control").status_code == 200


def test_activity_shows_the_users_events_newest_first(viewer_page, business, other_business):
    publish(kind="agent.started", business=business, message="first")
    publish(kind="agent.stopped", business=business, message="second")
    publish(kind="agent.started", business=other_business, message="not yours")
    body = viewer_page.get("/global/activity").content.decode()
    assert body.index("second") < body.index("first")
    assert "not yours" not in body


def test_activity_filters_by_kind_prefix_and_agent(viewer_page, business, agent):
    publish(kind="agent.started", business=business, agent_id=agent.pk, message="agent event")
    publish(kind="execution.failed", business=business, message="execution event")
    body = viewer_page.get(f"/global/activity?kind=agent.&agent={agent.pk}").content.decode()
    assert "agent event" in body
    assert "execution event" not in body


def test_activity_answers_404_for_a_stranger_business_filter(viewer_page, other_business):
    assert viewer_page.get("/global/activity?business=globex").status_code == 404


def test_activity_costs_a_fixed_number_of_queries(viewer_page, business, django_assert_max_num_queries):
    for i in range(150):
        publish(kind="x.y", business=business, message=f"m{i}")
    with django_assert_max_num_queries(7):
        assert viewer_page.get("/global/activity").status_code == 200


def test_activity_narrows_the_live_stream_to_the_chosen_business(make_member, business, other_business):
    from governance.models import Membership
    from tests.console.conftest import signed_in

    user = make_member("viewer", business)
    Membership.objects.create(user=user, business=other_business, role="viewer")
    client = signed_in(user)
    client.post("/console/scope", {"business": "globex", "next": "/global/activity"})
    body = client.get("/global/activity").content.decode()
    assert 'data-business="globex" data-global="1"' in body
    assert (
        'data-business="acme" data-global="0"'
        in client.get("/global/activity?business=acme").content.decode()
    )
