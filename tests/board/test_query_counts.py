"""The task list costs a fixed number of queries, however many tasks, blockers and subtasks it shows."""

import pytest

from board import services

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
