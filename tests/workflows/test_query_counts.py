"""List pages cost a fixed number of queries, however many rows they show."""

import pytest

from workflows import board, cron, definitions, runs

pytestmark = pytest.mark.django_db


def test_the_task_list_costs_the_same_for_many_rows(operator_api, business, django_assert_max_num_queries):
    previous = None
    for i in range(12):
        task = board.create_task(
            business=business, title=f"t{i}", blocked_by=[previous.pk] if previous else []
        )
        board.create_task(business=business, title=f"sub{i}", parent=task)
        previous = task
    with django_assert_max_num_queries(8):
        response = operator_api.get("/api/v1/tasks/", {"business": "acme"})
    assert len(response.json()["results"]) == 24


def test_the_cron_job_list_costs_the_same_for_many_rows(
    admin_api, business, agent, django_assert_max_num_queries
):
    for i in range(15):
        cron.create_job(business=business, name=f"job{i}", schedule=f"{i} * * * *", agent=agent)
    with django_assert_max_num_queries(5):
        response = admin_api.get("/api/v1/cron-jobs/")
    assert len(response.json()["results"]) == 15


def test_the_run_list_costs_the_same_for_many_rows(
    operator_api, business, agent, django_assert_max_num_queries
):
    workflow = definitions.create_workflow(
        business=business,
        name="wf",
        definition={"steps": [{"id": "a", "agent": agent.pk}, {"id": "b", "agent": agent.pk}]},
    )
    for _ in range(10):
        runs.start_run(workflow=workflow, input={})
    with django_assert_max_num_queries(6):
        response = operator_api.get("/api/v1/workflow-runs/")
    assert len(response.json()["results"]) == 10
