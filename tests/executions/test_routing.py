"""POST /api/v1/executions/route: the cheapest agent per successful execution among those that may
take the work, the decision stored with the execution."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Agent
from agents.services import create_agent
from executions.models import Execution, RoutingSettings
from governance.models import Budget, ExecutionPolicy
from governance.roles import Role
from governance.stops import engage_emergency_stop
from mission_control.models import Event
from observability.rollups import roll_up_execution
from tests.console.conftest import signed_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/executions/route"


@pytest.fixture(autouse=True)
def no_exploration(business):
    RoutingSettings.objects.create(business=business, explore_share=0)


@pytest.fixture
def make(business):
    """An online agent with ``summarise`` and a history of ``runs`` runs, ``ok`` of them successes,
    each costing ``cost`` and lasting ``seconds``."""

    def make(name, *, runs=0, ok=0, cost="0.01", seconds=10, scale=1, **fields):
        costs = cost if isinstance(cost, list) else [cost]
        agent = create_agent(business=business, name=name, capabilities=["summarise"], scale=scale, **fields)
        now = timezone.now()
        Agent.objects.filter(pk=agent.pk).update(last_heartbeat=now, offline_after=now + timedelta(hours=1))
        for i in range(runs):
            execution = Execution.objects.create(
                business=business,
                agent=agent,
                trigger="manual",
                status="success" if i < ok else "failed",
                cost_usd=Decimal(costs[i % len(costs)]),
                cost_source="reported",
                started_at=now - timedelta(minutes=30, seconds=seconds),
                finished_at=now - timedelta(minutes=30),
                duration_ms=seconds * 1000,
            )
            roll_up_execution(execution.pk)
        agent.refresh_from_db()
        return agent

    return make


def route(api, **body):
    return api.post(
        URL, {"business": "acme", "capability": "summarise", "input": {"doc": 1}, **body}, format="json"
    )


def test_the_cheapest_agent_wins_and_the_decision_is_stored(operator_api, make):
    make("dear", runs=20, ok=20, cost="0.05")
    cheap = make("cheap", runs=20, ok=20, cost="0.01")
    response = route(operator_api)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["agent"] == cheap.pk and body["status"] == "pending"
    routing = Execution.objects.get(pk=body["id"]).routing
    assert routing["chosen"] == cheap.pk and routing == body["routing"]
    assert [c["name"] for c in routing["candidates"]] == ["cheap", "dear"]
    assert routing["candidates"][0]["score"] < routing["candidates"][1]["score"]
    assert routing["reason"].startswith("cheapest per successful execution: cheap")
    assert "routed to cheap" in Event.objects.get(kind="execution.routed").message


def test_a_cheap_agent_that_fails_often_loses(operator_api, make):
    make("flaky", runs=40, ok=8, cost="0.01")  # $0.01 / 0.2 = $0.05 per success
    steady = make("steady", runs=40, ok=40, cost="0.03")
    assert route(operator_api).json()["agent"] == steady.pk


def test_a_saturated_cheapest_agent_loses_when_its_wait_exceeds_the_bound(operator_api, make, business):
    cheap = make("cheap", runs=20, ok=20, cost="0.01", seconds=60)
    other = make("other", runs=20, ok=20, cost="0.02", seconds=60)
    Execution.objects.bulk_create(
        Execution(business=business, agent=cheap, trigger="manual", status="pending") for _ in range(10)
    )
    assert route(operator_api).json()["agent"] == cheap.pk  # no bound: the cheapest, whatever the wait
    body = route(operator_api, max_wait_s=120).json()
    assert body["agent"] == other.pk
    [excluded] = [c for c in body["routing"]["candidates"] if c["agent"] == cheap.pk]
    assert excluded["excluded"].startswith("expected wait ") and excluded["score"] is None


def test_a_new_agent_is_judged_by_the_fleet_until_it_has_history(operator_api, make):
    make("known", runs=30, ok=30, cost="0.02")
    new = make("new")
    body = route(operator_api).json()
    [fresh] = [c for c in body["routing"]["candidates"] if c["agent"] == new.pk]
    # No history: the fleet's cost and success rate, so the same score as the average agent.
    assert fresh["cost_per_execution_usd"] == pytest.approx(0.02)
    assert fresh["score"] is not None


def test_a_policy_excludes_an_agent(operator_api, make, business):
    cheap = make("cheap", runs=10, ok=10, cost="0.01")
    other = make("other", runs=10, ok=10, cost="0.02")
    ExecutionPolicy.objects.create(business=business, agent_id=cheap.pk, allowed_triggers=["cron"])
    body = route(operator_api).json()
    assert body["agent"] == other.pk
    [row] = [c for c in body["routing"]["candidates"] if c["agent"] == cheap.pk]
    assert "does not allow 'manual' runs" in row["excluded"]


def test_a_model_the_policy_forbids_excludes_an_agent(operator_api, make, business):
    cheap = make("cheap", runs=10, ok=10, cost="0.01")
    other = make("other", runs=10, ok=10, cost="0.02")
    ExecutionPolicy.objects.create(business=business, agent_id=cheap.pk, allowed_models=["small"])
    assert route(operator_api, model="large").json()["agent"] == other.pk


def test_a_budget_without_headroom_excludes_an_agent(operator_api, make, business):
    cheap = make("cheap", runs=10, ok=10, cost="0.01", max_cost_per_execution_usd=Decimal("0.50"))
    other = make("other", runs=10, ok=10, cost="0.02")
    Budget.objects.create(business=business, agent_id=cheap.pk, period="day", limit_usd=Decimal("0.10"))
    body = route(operator_api).json()
    assert body["agent"] == other.pk
    [row] = [c for c in body["routing"]["candidates"] if c["agent"] == cheap.pk]
    assert row["excluded"].startswith("budget: the day budget")


def test_the_emergency_stop_excludes_everyone_with_409(operator_api, make, business):
    make("a", runs=5, ok=5)
    make("b", runs=5, ok=5)
    engage_emergency_stop(business=business, reason="drill", actor="test")
    response = route(operator_api)
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "no_eligible_agent"
    assert {c["reason"] for c in body["candidates"]} == {"an emergency stop is engaged"}
    assert not Execution.objects.filter(status="pending").exists()


def test_offline_and_stopped_agents_are_named_in_the_409(operator_api, make):
    away = make("away")
    Agent.objects.filter(pk=away.pk).update(
        offline_after=timezone.now() - timedelta(seconds=1), last_heartbeat=None
    )
    make("off", desired_state="stopped")
    body = route(operator_api).json()
    assert {c["name"]: c["reason"] for c in body["candidates"]} == {"away": "offline", "off": "stopped"}


def test_a_capability_nobody_has_is_a_409_with_no_candidates(operator_api, make):
    make("a")
    response = route(operator_api, capability="translate")
    assert response.status_code == 409 and response.json()["candidates"] == []


def test_exploration_sends_a_share_elsewhere(operator_api, make, business):
    make("cheap", runs=20, ok=20, cost="0.01")
    make("dear", runs=20, ok=20, cost="0.05")
    RoutingSettings.objects.filter(business=business).update(explore_share=Decimal("0.5"))
    explored = [route(operator_api).json()["routing"]["explored"] for _ in range(40)]
    assert 5 <= sum(explored) <= 35  # about half (binomial, 40 draws: outside this ~1 in 10^4)


def test_a_viewer_may_not_route_and_a_stranger_gets_404(api_as, make, other_business):
    make("a")
    assert route(api_as(Role.VIEWER)).status_code == 403
    assert route(api_as(Role.OWNER, on=other_business)).status_code == 404


def test_the_explore_share_is_set_by_an_admin_within_bounds(api_as):
    admin = api_as(Role.ADMIN)
    assert admin.put("/api/v1/businesses/acme/routing", {"explore_share": "0.1"}, format="json").json() == {
        "explore_share": "0.100"
    }
    bad = admin.put("/api/v1/businesses/acme/routing", {"explore_share": "0.9"}, format="json")
    assert bad.status_code == 400 and "explore_share" in bad.json()["fields"]
    assert api_as(Role.VIEWER).get("/api/v1/businesses/acme/routing").json() == {"explore_share": "0.100"}
    assert (
        api_as(Role.OPERATOR)
        .put("/api/v1/businesses/acme/routing", {"explore_share": "0"}, format="json")
        .status_code
        == 403
    )


def test_a_decision_costs_the_same_queries_for_5_or_25_candidates(operator_api, make):
    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert route(operator_api).status_code == 202
        return len(queries)

    for i in range(5):
        make(f"a{i}", runs=1, ok=1)
    cost()  # the caller's first request (token use, caches)
    five = cost()
    for i in range(20):
        make(f"b{i}", runs=1, ok=1)
    assert cost() == five


def test_the_execution_page_explains_the_decision(operator_api, make):
    make("dear", runs=20, ok=20, cost="0.05")
    make("cheap", runs=20, ok=20, cost="0.01")
    pk = route(operator_api).json()["id"]
    body = signed_in(operator_api.user).get(f"/global/executions/{pk}").content.decode()
    assert "cheapest per successful execution: cheap" in body
    assert body.index(">cheap <") < body.index(">dear<")  # best first, chosen marked


def skewed(make, name, **fields):
    """An agent whose mean cost ($0.0105, what routing judges budgets by) is below the p90 that its
    start holds ($0.02): routing finds room in a $0.015 budget that the start then refuses."""
    return make(name, runs=10, ok=10, cost=["0.001", "0.02"], **fields)


def test_a_start_refused_after_routing_goes_to_the_next_agent(operator_api, make, business):
    cheap = skewed(make, "cheap")
    other = make("other", runs=10, ok=10, cost="0.03")
    Budget.objects.create(business=business, agent_id=cheap.pk, period="day", limit_usd=Decimal("0.015"))
    response = route(operator_api)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["agent"] == other.pk
    routing = body["routing"]
    assert routing["chosen"] == other.pk
    assert [(r["agent"], r["error"]) for r in routing["refused"]] == [(cheap.pk, "budget_exceeded")]
    assert routing["reason"].startswith("cheap refused the start (budget_exceeded: ")
    assert "next in score order: other" in routing["reason"]
    assert routing["first_reason"].startswith("cheapest per successful execution: cheap")
    assert Execution.objects.filter(status="pending").count() == 1  # nothing left of the refused start
    assert "routed to other" in Event.objects.get(kind="execution.routed").message


def test_an_agent_stopped_between_the_decision_and_its_start_is_passed_over(operator_api, make, monkeypatch):
    from executions import routing

    cheap = make("cheap", runs=10, ok=10, cost="0.01")
    other = make("other", runs=10, ok=10, cost="0.03")
    decide = routing.decide

    def racing_stop(**kwargs):
        decision = decide(**kwargs)
        Agent.objects.filter(pk=cheap.pk).update(desired_state="stopped")  # an operator, meanwhile
        return decision

    monkeypatch.setattr(routing, "decide", racing_stop)
    body = route(operator_api).json()
    assert body["agent"] == other.pk
    assert body["routing"]["refused"][0]["error"] == "agent_unavailable"


def test_when_every_agent_refuses_the_start_the_answer_is_409_with_each_reason(operator_api, make, business):
    for name in ("a", "b"):
        agent = skewed(make, name)
        Budget.objects.create(business=business, agent_id=agent.pk, period="day", limit_usd=Decimal("0.015"))
    Agent.objects.filter(pk=make("away").pk).update(desired_state="stopped")
    response = route(operator_api)
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "no_eligible_agent"
    reasons = {c["name"]: c["reason"] for c in body["candidates"]}
    assert reasons["a"].startswith("refused at start: budget_exceeded: ")
    assert reasons["b"].startswith("refused at start: budget_exceeded: ")
    assert reasons["away"] == "stopped"
    assert not Execution.objects.filter(status="pending").exists()


def test_an_emergency_stop_at_start_is_not_walked_past(operator_api, make, business, monkeypatch):
    from executions import routing

    make("cheap", runs=10, ok=10, cost="0.01")
    make("other", runs=10, ok=10, cost="0.03")
    decide = routing.decide

    def racing_stop(**kwargs):
        decision = decide(**kwargs)
        engage_emergency_stop(business=business, reason="drill", actor="test")
        return decision

    monkeypatch.setattr(routing, "decide", racing_stop)
    response = route(operator_api)
    assert response.status_code == 423 and response.json()["error"] == "emergency_stop"


def test_exclusions_are_read_at_every_decision(operator_api, make, business):
    from governance import windows
    from governance.models import BudgetWindow

    cheap = make("cheap", runs=10, ok=10, cost="0.01")
    other = make("other", runs=10, ok=10, cost="0.02")
    assert route(operator_api).json()["agent"] == cheap.pk  # the figures are kept from here on
    Agent.objects.filter(pk=cheap.pk).update(desired_state="stopped")
    assert route(operator_api).json()["agent"] == other.pk  # stopped a moment ago
    Agent.objects.filter(pk=cheap.pk).update(desired_state="running")
    budget = Budget.objects.create(business=business, agent_id=cheap.pk, period="day", limit_usd=Decimal("1"))
    start, end = windows.bounds("day", business.timezone, timezone.now())
    BudgetWindow.objects.create(budget=budget, window_start=start, window_end=end, spent_usd=Decimal("1"))
    body = route(operator_api).json()  # its budget spent a moment ago
    assert body["agent"] == other.pk
    [row] = [c for c in body["routing"]["candidates"] if c["agent"] == cheap.pk]
    assert row["excluded"].startswith("budget: the day budget of $1.00 cannot cover it ($0.00 left")


def test_an_agents_policy_cap_is_the_estimate_its_budget_must_cover(operator_api, make, business):
    cheap = make("cheap", runs=10, ok=10, cost="0.01")
    other = make("other", runs=10, ok=10, cost="0.02")
    ExecutionPolicy.objects.create(
        business=business, agent_id=cheap.pk, max_cost_per_execution_usd=Decimal("0.5")
    )
    Budget.objects.create(business=business, agent_id=cheap.pk, period="day", limit_usd=Decimal("0.10"))
    body = route(operator_api).json()
    assert body["agent"] == other.pk
    [row] = [c for c in body["routing"]["candidates"] if c["agent"] == cheap.pk]
    assert row["excluded"].endswith("$0.50 needed)")


def test_a_decision_is_one_round_trip_whatever_the_number_of_agents(make, business):
    from executions.routing import decide

    def round_trips() -> int:
        with CaptureQueriesContext(connection) as queries:
            decide(business=business, capability="summarise", trigger="manual")
        return len(queries)

    make("a0", runs=1, ok=1)
    ExecutionPolicy.objects.create(business=business, allowed_triggers=["manual"])
    Budget.objects.create(business=business, period="day", limit_usd=Decimal("10"))
    one_by_one = 6  # the candidates, queues, live figures, settings and stop, policies, budgets
    expected = 1 if connection.vendor == "postgresql" else one_by_one
    assert round_trips() == expected + 1  # and the closed hours' sums, kept for a minute from here
    assert round_trips() == expected
    for i in range(24):
        make(f"b{i}", runs=1, ok=1)
    assert round_trips() == expected


def test_a_policy_that_only_asks_a_run_role_excludes_an_agent(operator_api, make, business):
    cheap = make("cheap", runs=10, ok=10, cost="0.01")
    other = make("other", runs=10, ok=10, cost="0.02")
    ExecutionPolicy.objects.create(business=business, agent_id=cheap.pk, min_run_role=Role.ADMIN)
    ExecutionPolicy.objects.create(business=business, agent_id=other.pk)  # allows everything
    body = route(operator_api).json()
    assert body["agent"] == other.pk
    [row] = [c for c in body["routing"]["candidates"] if c["agent"] == cheap.pk]
    assert row["excluded"] == f"policy: Only admins and above may run agent {cheap.pk}'s work."
