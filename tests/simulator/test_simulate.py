"""The simulated fleet against a live server: real HTTP through the SDK, rows checked after."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from agents.services import create_agent, issue_key, stop_agent
from executions.models import Execution, ExecutionLog
from executions.services import start_execution

# Each runs a fleet against a live server for 10-15 s of wall clock.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _profile(agent, style, model, provider):
    _, raw = issue_key(agent=agent, name="simulator")
    return {
        "id": agent.pk,
        "name": agent.name,
        "business": agent.business.slug,
        "key": raw,
        "capabilities": agent.capabilities,
        "model": model,
        "provider": provider,
        "style": style,
    }


def test_the_fleet_claims_queued_work_reports_its_own_and_obeys_a_stop(live_server, business, tmp_path):
    puller = create_agent(business=business, name="triage-bot", capabilities=["triage"])
    loner = create_agent(business=business, name="ops-sentinel", capabilities=["ops"])
    parked = create_agent(business=business, name="parked", capabilities=["code"])
    fleet = tmp_path / "fleet.json"
    profiles = [
        _profile(puller, "pull", "gpt-4o-mini", "openai"),
        _profile(loner, "autonomous", "claude-sonnet-4", "anthropic"),
        _profile(parked, "pull", "gemini-2.5-flash", "google"),
    ]
    fleet.write_text(json.dumps({"agents": profiles}))
    queued = start_execution(agent=puller, trigger="manual", input={"ticket": "Checkout is down"})
    stop_agent(agent=parked)
    start_execution(agent=parked, trigger="manual", input={"pr": 1})
    out = StringIO()

    call_command(
        "simulate",
        url=live_server.url,
        fleet=str(fleet),
        duration=10,
        speed=20,
        seed=7,
        wait=True,
        stdout=out,
    )

    queued.refresh_from_db()
    assert (
        queued.status in ("success", "failed") and queued.total_tokens > 0 and queued.model == "gpt-4o-mini"
    )
    kinds = set(ExecutionLog.objects.filter(execution=queued).values_list("kind", flat=True))
    assert {"prompt", "api_call", "tool_call"} <= kinds
    assert Execution.objects.filter(agent=loner, trigger="autonomous").exists()
    assert not Execution.objects.filter(agent=parked).exclude(status="pending").exists()
    assert parked.commands.get().acknowledged_at is not None
    assert "Fleet stopped" in out.getvalue()


def test_a_provider_outage_scenario_fails_that_providers_work(live_server, business, tmp_path):
    hit = create_agent(business=business, name="triage-bot", capabilities=["triage"])
    spared = create_agent(business=business, name="ops-sentinel", capabilities=["ops"])
    fleet = tmp_path / "fleet.json"
    profiles = [
        _profile(hit, "autonomous", "gpt-4o-mini", "openai"),
        _profile(spared, "autonomous", "claude-sonnet-4", "anthropic"),
    ]
    fleet.write_text(json.dumps({"agents": profiles}))
    out = StringIO()

    # At 300× the outage's 503s run from 6 s to 15 s of wall clock.
    call_command(
        "simulate",
        url=live_server.url,
        fleet=str(fleet),
        duration=18,
        speed=300,
        seed=3,
        wait=True,
        scenario="provider_outage",
        stdout=out,
    )

    assert "Scenario provider_outage on openai" in out.getvalue()
    assert Execution.objects.filter(agent=hit, error_type="provider_unavailable").exists()
    assert not Execution.objects.filter(agent=spared, error_type="provider_unavailable").exists()
