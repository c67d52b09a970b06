"""Issue 12 item 4: an agent key reads its own events and the emergency stops it must obey, nothing
else of its business (budgets, policies, other agents), as ``/executions/`` shows it only its own work."""

import pytest

from agents.services import create_agent
from mission_control.events import publish
from mission_control.models import Event
from tests.conftest import agent_client


@pytest.fixture
def seeded(business, other_business, agent):
    neighbour = create_agent(business=business, name="neighbour")
    stranger = create_agent(business=other_business, name="stranger")
    seeded.start = Event.objects.order_by("-id").values_list("id", flat=True).first()
    return {
        "mine": publish(kind="execution.started", business=business, agent_id=agent.pk),
        "neighbour": publish(kind="execution.started", business=business, agent_id=neighbour.pk),
        "budget": publish(kind="budget.changed", business=business),
        "policy": publish(kind="policy.changed", business=business),
        "stop": publish(kind="emergency_stop.engaged", business=business),
        "global_stop": publish(kind="emergency_stop.engaged"),
        "global_other": publish(kind="business.created"),
        "stranger": publish(kind="execution.started", business=other_business, agent_id=stranger.pk),
        "stranger_stop": publish(kind="emergency_stop.engaged", business=other_business),
    }


def _ids(client, query=""):
    response = client.get(f"/api/v1/events/?after={seeded.start}&{query}")
    assert response.status_code == 200, response.content
    return {e["id"] for e in response.json()["results"]}


@pytest.mark.django_db
def test_it_shows_an_agent_only_its_own_events_and_the_stops_it_obeys(agent_api, seeded):
    expected = {seeded[name].pk for name in ("mine", "stop", "global_stop")}
    assert _ids(agent_api) == expected
    newest_first = agent_api.get("/api/v1/events/").json()["results"]
    assert {e["id"] for e in newest_first} >= expected
    assert {e["agent"] for e in newest_first if e["kind"] != "emergency_stop.engaged"} == {
        seeded["mine"].agent_id
    }


@pytest.mark.django_db
def test_it_does_not_widen_an_agent_through_filters(agent_api, seeded):
    neighbour = seeded["neighbour"]
    assert _ids(agent_api, f"agent={neighbour.agent_id}") == set()
    assert _ids(agent_api, "kind=budget.changed,policy.changed") == set()
    assert _ids(agent_api, "business=acme") == {seeded["mine"].pk, seeded["stop"].pk}
    assert agent_api.get("/api/v1/events/?business=globex").status_code == 404


@pytest.mark.django_db
def test_it_still_shows_a_member_the_whole_business(viewer_api, seeded):
    names = ("mine", "neighbour", "budget", "policy", "stop", "global_stop", "global_other")
    assert _ids(viewer_api) == {seeded[name].pk for name in names}


@pytest.mark.django_db
def test_it_scopes_each_agent_to_itself(business, seeded):
    third = create_agent(business=business, name="third")
    third_api = agent_client(third)
    own = set(Event.objects.filter(agent_id=third.pk).values_list("id", flat=True))
    assert own
    assert _ids(third_api) == {seeded["stop"].pk, seeded["global_stop"].pk} | own
