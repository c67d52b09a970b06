"""Ids in query strings are parsed in one place: "³" passes ``str.isdigit()`` and then crashed ``int()``."""

import pytest
from channels.testing import WebsocketCommunicator

from governance.services import issue_operator_token
from mission_control.asgi import application
from mission_control.params import InvalidParameter, id_or_none, parse_id

BAD = ["³", "²⁵", "٣", "1.0", "-1", " 1", "99999999999999999999", "9223372036854775808"]

API_FILTERS = [
    ("/api/v1/events", "after"),
    ("/api/v1/events", "agent"),
    ("/api/v1/events", "execution"),
    ("/api/v1/executions", "agent"),
    ("/api/v1/executions", "cron_job"),
    ("/api/v1/executions", "workflow_run"),
    ("/api/v1/executions", "replay_of"),
    ("/api/v1/executions", "retry_of"),
    ("/api/v1/executions", "min_duration_ms"),
    ("/api/v1/executions/export", "agent"),
    ("/api/v1/tasks", "epic"),
    ("/api/v1/tasks", "parent"),
    ("/api/v1/tasks", "assignee"),
    ("/api/v1/workflow-runs", "workflow"),
    ("/api/v1/cron-jobs", "agent"),
    ("/api/v1/budgets", "agent"),
    ("/api/v1/policies", "agent"),
    ("/api/v1/anomalies", "agent"),
    ("/api/v1/alerts", "rule"),
    ("/api/v1/brain/documents", "agent"),
]

CONSOLE_PAGES = [
    "/global/activity?agent=",
    "/global/executions?before=",
    "/global/executions?agent=",
    "/global/executions?cron_job=",
    "/global/logs?before=",
    "/global/logs?agent=",
    "/global/logs?execution=",
    "/global/cron?job=",
    "/global/workflows?run=",
    "/global/brain?scope=",
    "/global/brain?doc=",
    "/acme/board?epic=",
    "/acme/board?assignee=",
]


@pytest.mark.parametrize("value", BAD)
def test_it_refuses_what_is_not_an_ascii_id_that_fits_a_bigint(value):
    with pytest.raises(InvalidParameter) as caught:
        parse_id(value, name="agent")
    assert caught.value.name == "agent"
    assert id_or_none(value) is None


def test_it_reads_ids_and_treats_empty_as_absent():
    assert parse_id("42", name="x") == 42
    assert parse_id("9223372036854775807", name="x") == 2**63 - 1
    assert parse_id("", name="x") is None
    assert parse_id(None, name="x") is None


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "name"), API_FILTERS)
def test_it_answers_400_naming_the_parameter_for_a_superscript_id(admin_api, path, name):
    response = admin_api.get(path, {name: "³"})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_parameter"
    assert body["parameter"] == name
    assert name in body["detail"]


@pytest.mark.django_db
def test_it_answers_404_not_500_for_a_path_id_too_long_for_a_bigint(admin_api):
    assert admin_api.get("/api/v1/agents/99999999999999999999").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("page", CONSOLE_PAGES)
def test_it_shows_console_pages_with_a_superscript_id_as_unfiltered(admin_page, page):
    assert admin_page.get(page + "%C2%B3").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_it_opens_the_event_stream_with_a_superscript_after(superuser):
    from asgiref.sync import sync_to_async

    _, raw = await sync_to_async(issue_operator_token)(user=superuser)
    communicator = WebsocketCommunicator(
        application, f"/ws/events/?token={raw}&after=%C2%B3", headers=[(b"host", b"localhost")]
    )
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()


@pytest.fixture
def superuser(django_user_model, business):
    return django_user_model.objects.create_superuser(username="root", password="pw-secret-123")


@pytest.fixture
def admin_api(superuser):
    from tests.conftest import client_for

    return client_for(superuser)


@pytest.fixture
def admin_page(superuser):
    from django.test import Client

    client = Client()
    client.force_login(superuser)
    return client
