"""The task list costs a fixed number of queries, however many tasks, blockers and subtasks it shows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from board import services
from tests.conftest import agent_client

pytestmark = pytest.mark.django_db


def test_the_task_list_costs_the_same_for_many_rows(operator_api, business, django_assert_max_num_queries):
    previous = None
    for i in range(12):
        task = services.create_task(
            business=business, title=f"t{i}", blocked_by=[previous.pk] if previous else []
        )
        services.create_task(business=business, title=f"sub{i}", parent=task)
        previous = task
    with django_assert_max_num_queries(8):
        response = operator_api.get("/api/v1/tasks/", {"business": "acme"})
    assert len(response.json()["results"]) == 24


def _claim_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/api/v1/agent/tasks/claim")
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.postgres  # SKIP LOCKED
def test_a_task_claim_costs_the_same_on_a_small_and_a_big_board(business, make_agent):
    coder = make_agent(capabilities=["code"])
    api = agent_client(coder)
    services.create_task(business=business, title="warm-up", required_capabilities=["code"])
    api.post("/api/v1/agent/tasks/claim")  # the key and its rate are cached from here on
    services.create_task(business=business, title="one", required_capabilities=["code"])
    small = _claim_queries(api)
    for i in range(40):
        services.create_task(business=business, title=f"t{i}", required_capabilities=["code"], priority=i % 4)
    big = _claim_queries(api)
    # The agent; in a savepoint: the emergency-stop check, the ready task (locked), its claim, the
    # claim's comment, the business and the event; then the task read back with its relations.
    assert (small, big) == (15, 15)
