"""The command palette's search: fuzzy, scoped to the user, offering only what their role allows."""

import pytest

from agents.services import create_agent
from console.palette import fuzzy_score
from governance.roles import Role

pytestmark = pytest.mark.django_db


def labels(response):
    return [r["label"] for r in response.json()["results"]]


def test_it_matches_letters_in_order_and_prefers_word_starts():
    assert fuzzy_score("cdr", "coder-1") is not None
    assert fuzzy_score("xyz", "coder-1") is None
    assert fuzzy_score("rc", "Run coder") > fuzzy_score("rc", "error count")


def test_it_finds_an_agent_by_a_fuzzy_name(viewer_page, agent):
    assert "coder-1" in labels(viewer_page.get("/console/palette?q=cdr1"))


def test_it_never_offers_another_business_s_objects(viewer_page, agent, stranger_agent):
    found = labels(viewer_page.get("/console/palette?q=agent"))
    assert not any("their-agent" in label for label in found)


def test_it_offers_run_and_restart_to_operators(operator_page, agent):
    results = operator_page.get("/console/palette?q=run coder").json()["results"]
    run = next(r for r in results if r["label"] == "Run agent coder-1")
    assert run["action"] == {
        "method": "POST",
        "endpoint": f"/api/v1/agents/{agent.pk}/run",
        "body": {"input": {}},
        "done": "Run of coder-1 queued",
    }
    assert "Restart agent coder-1" in labels(operator_page.get("/console/palette?q=restart"))


def test_it_offers_no_actions_to_viewers(viewer_page, agent):
    found = labels(viewer_page.get("/console/palette?q=coder"))
    assert "coder-1" in found
    assert not any(label.startswith(("Run agent", "Restart agent")) for label in found)
    assert not any(label.startswith("Emergency stop") for label in found)


def test_it_asks_a_reason_before_an_emergency_stop(operator_page, business):
    results = operator_page.get("/console/palette?q=emergency").json()["results"]
    stop = next(r for r in results if r["label"] == "Emergency stop: Acme")
    assert stop["action"]["endpoint"] == "/api/v1/emergency-stop"
    assert stop["action"]["body"] == {"business": "acme"}
    assert stop["action"]["prompt"]["field"] == "reason"


def test_it_lists_pages_when_nothing_is_typed(viewer_page):
    results = viewer_page.get("/console/palette").json()["results"]
    assert {
        "kind": "page",
        "label": "Control panel",
        "detail": "Operate",
        "url": "/control",
    } in results


def test_it_costs_a_fixed_number_of_queries_whatever_the_fleet(
    operator_page, business, django_assert_max_num_queries
):
    for i in range(30):
        create_agent(business=business, name=f"worker-{i}")
    with django_assert_max_num_queries(8):
        response = operator_page.get("/console/palette?q=wrk")
    assert 10 < len(response.json()["results"]) <= 20


def test_it_sends_anonymous_callers_to_sign_in(client):
    assert client.get("/console/palette?q=x").status_code == 302


def test_a_role_elsewhere_does_not_grant_actions_here(make_member, business, other_business, agent):
    from governance.models import Membership
    from tests.console.conftest import signed_in

    user = make_member(Role.VIEWER, business)
    Membership.objects.create(user=user, business=other_business, role=Role.OWNER)
    found = labels(signed_in(user).get("/console/palette?q=run coder"))
    assert "Run agent coder-1" not in found
