"""Input that crashed the server (500) or looked like an outage (503) is a 400 with a stable code.

Each case was found by the attack campaign of issue 12 (items 8 and 9).
"""

import json

import pytest

from board.models import Epic
from executions.models import Execution
from governance.roles import Role
from mission_control import json_limits
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000


def post_raw(client, path: str, text: str):
    return client.generic("POST", path, text, content_type="application/json")


def test_it_creates_an_epic_with_the_documented_status(operator_api):
    response = operator_api.post(
        "/api/v1/epics/", {"business": "acme", "title": "Launch", "status": "done"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "done"
    assert Epic.objects.get().status == "done"


def test_it_refuses_an_execution_input_nested_1000_deep(agent_api):
    response = post_raw(
        agent_api, "/api/v1/executions/", '{"status": "running", "input": {"a": ' + DEEP + "}}"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "too_deep"
    assert not Execution.objects.exists()


def test_it_refuses_a_manual_run_input_nested_1000_deep(operator_api, agent):
    response = post_raw(operator_api, f"/api/v1/agents/{agent.pk}/run", '{"input": ' + DEEP + "}")
    assert response.status_code == 400 and response.json()["error"] == "too_deep"
    assert not Execution.objects.exists()


def test_it_refuses_a_body_too_deep_for_the_json_parser_itself(operator_api, agent):
    text = '{"input": %s}' % ("[" * 100_000 + "]" * 100_000)
    response = post_raw(operator_api, f"/api/v1/agents/{agent.pk}/run", text)
    assert response.status_code == 400 and response.json()["error"] == "too_deep"


def test_it_refuses_a_workflow_step_input_nested_1000_deep(admin_api, agent):
    body = '{"business": "acme", "name": "deep", "definition": {"steps": [{"id": "a", "agent": %d, "input": %s}]}}'
    response = post_raw(admin_api, "/api/v1/workflows/", body % (agent.pk, DEEP))
    assert response.status_code == 400 and response.json()["error"] == "too_deep"
    assert not Workflow.objects.exists()


def test_it_refuses_a_when_with_500_nested_parentheses_naming_the_step(admin_api, agent):
    when = "(" * 500 + "input.x" + ")" * 500
    steps = [
        {"id": "a", "agent": agent.pk},
        {"id": "b", "agent": agent.pk, "depends_on": ["a"], "when": when},
    ]
    response = admin_api.post(
        "/api/v1/workflows/", {"business": "acme", "name": "w", "definition": {"steps": steps}}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_definition" and response.json()["step"] == "b"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-25T00:00:00Z", ""),
        ("9999-12-25T00:00:00Z", "9999-12-31T23:59:59Z"),
        ("0001-01-01T00:00:00+14:00", ""),
    ],
)
def test_it_refuses_calendar_bounds_near_the_end_of_time(viewer_api, start, end):
    params = {"start": start, **({"end": end} if end else {})}
    response = viewer_api.get("/api/v1/cron-jobs/calendar", params)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_parameter"
    assert response.json()["parameter"] in ("start", "end")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/executions?model=a%00b",
        "/api/v1/executions?q=%00",
        "/api/v1/agents?capability=%00",
        "/api/v1/events?kind=%00",
        "/api/v1/audit?actor=%00",
        "/api/v1/brain/documents?tag=%00",
    ],
)
def test_it_refuses_a_nul_in_a_query_filter(owner_api, path):
    response = owner_api.get(path)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_parameter"


def test_it_refuses_a_nul_in_a_console_filter(make_member, business, client):
    client.force_login(make_member(Role.VIEWER, business))
    assert client.get("/global/executions?model=%00").status_code == 400


@pytest.mark.parametrize("text", ['"a\\u0000b"', '"\\ud800"', '"x\\udfffy"'])
def test_it_refuses_a_nul_or_a_lone_surrogate_in_json_input(agent_api, text):
    response = post_raw(
        agent_api, "/api/v1/executions/", '{"status": "running", "input": {"t": ' + text + "}}"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_characters"
    assert response.json()["path"] == "input.t"
    assert not Execution.objects.exists()


@pytest.mark.parametrize("text", ['"a\\u0000b"', '"\\uD800"', '"x\\udfffy"'])
def test_it_refuses_bad_text_in_any_spelling_of_its_escape(agent_api, text):
    body = '{"executions": [{"status": "success", "input": {"t": ' + text + "}}]}"
    response = post_raw(agent_api, "/api/v1/executions/batch", body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_characters"


def test_it_accepts_a_paired_surrogate_escape_and_an_escaped_backslash(agent_api):
    text = '"\\ud83d\\ude00 and \\\\u0000"'  # an emoji, and the six characters \u0000
    response = post_raw(
        agent_api, "/api/v1/executions/", '{"status": "running", "input": {"t": ' + text + "}}"
    )
    assert response.status_code == 201, response.content
    assert Execution.objects.get().input == {"t": "\U0001f600 and \\u0000"}


def test_it_refuses_a_clean_body_nested_too_deep_without_looking_at_its_text(agent_api):
    body = '{"status": "running", "input": ' + "[" * 70 + "1" + "]" * 70 + "}"
    assert json_limits.may_hold_bad_text(body) is False
    response = post_raw(agent_api, "/api/v1/executions/", body)
    assert response.status_code == 400 and response.json()["error"] == "too_deep"


def test_it_refuses_a_lone_surrogate_in_a_key(agent_api):
    response = post_raw(agent_api, "/api/v1/executions/", '{"status": "running", "input": {"\\udc00": 1}}')
    assert response.status_code == 400 and response.json()["error"] == "invalid_characters"


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "cache_read_tokens", "duration_ms"])
@pytest.mark.parametrize("value", [2**63, 2**63 - 1, 2**64 + 5])
def test_it_refuses_usage_too_large_for_the_ledger_naming_the_field(agent_api, field, value):
    body = {"status": "success", "model": "gpt-4o", field: value}
    response = post_raw(agent_api, "/api/v1/executions/", json.dumps(body))
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["fields"]


def test_it_answers_400_not_503_when_the_database_refuses_a_value(owner_api, monkeypatch):
    from django.db import DataError

    from mission_control.api import events

    def refuse(*args, **kwargs):
        raise DataError("value out of range")

    monkeypatch.setattr(events, "event_scope", refuse)
    response = owner_api.get("/api/v1/events")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_value"


def test_it_previews_a_workflow_nested_1000_deep_as_an_error_not_a_crash(
    make_member, business, client, agent
):
    client.force_login(make_member(Role.ADMIN, business))
    steps = '{"steps": [{"id": "a", "agent": %d, "input": {"x": %s}}]}'
    definition = steps % (agent.pk, DEEP)
    response = client.post("/global/workflows/preview", {"business": "acme", "definition": definition})
    assert response.status_code == 200
    assert b"deeper than 64" in response.content
