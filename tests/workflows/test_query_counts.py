"""List pages cost a fixed number of queries, however many rows they show."""

import pytest

from workflows import cron, definitions, runs

pytestmark = pytest.mark.django_db


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
