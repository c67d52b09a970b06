"""Filters that mean nothing are a 400 naming the parameter; a body too large is a 413 in JSON."""

import pytest
from django.test import override_settings

from executions.models import Execution
from governance.roles import Role

pytestmark = pytest.mark.django_db

BAD_FILTERS = [
    ("/api/v1/budgets", "period", "AAA"),
    ("/api/v1/epics", "status", "AAA"),
    ("/api/v1/tasks", "status", "AAA"),
    ("/api/v1/workflow-runs", "status", "AAA"),
    ("/api/v1/cron-jobs", "enabled", "maybe"),
    ("/api/v1/executions", "status", "AAA"),
    ("/api/v1/executions", "since", "yesterday"),
    ("/api/v1/executions", "min_cost", "1e999999"),
    ("/api/v1/executions", "limit", "abc"),
    ("/api/v1/events", "limit", "-1"),
    ("/api/v1/events", "cursor", "not-a-cursor"),
    ("/api/v1/agents", "limit", "0"),
]


@pytest.fixture
def owner(api_as):
    return api_as(Role.OWNER)


@pytest.mark.parametrize(("path", "name", "value"), BAD_FILTERS)
def test_it_refuses_a_filter_value_that_means_nothing(owner, path, name, value):
    response = owner.get(path, {name: value})
    assert response.status_code == 400, response.content
    assert response.json()["error"] in ("invalid_parameter", "validation_error")
    assert name in response.json()["fields"]


@pytest.mark.parametrize(("name", "value"), [("level", "loud"), ("kind", "log,gossip")])
def test_it_refuses_an_unknown_log_level_or_kind(owner, agent, name, value):
    execution = Execution.objects.create(business_id=agent.business_id, agent=agent, status="running")
    response = owner.get(f"/api/v1/executions/{execution.pk}/logs", {name: value})
    assert response.status_code == 400 and response.json()["parameter"] == name


def test_it_refuses_an_unknown_cron_run_status(owner, agent):
    job = owner.post(
        "/api/v1/cron-jobs/",
        {"business": "acme", "name": "nightly", "schedule": "0 3 * * *", "agent": agent.pk},
        format="json",
    ).json()
    response = owner.get(f"/api/v1/cron-jobs/{job['id']}/runs", {"status": "AAA"})
    assert response.status_code == 400 and response.json()["parameter"] == "status"


def test_it_still_caps_a_large_limit_at_the_page_maximum(owner):
    assert owner.get("/api/v1/events", {"limit": "100000"}).status_code == 200


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024 * 1024)
def test_it_answers_413_in_json_for_a_body_over_the_limit_on_an_operator_endpoint(owner):
    body = '{"business": "acme", "title": "' + "x" * (1024 * 1024 + 1) + '"}'
    response = owner.generic("POST", "/api/v1/epics/", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "payload_too_large"
