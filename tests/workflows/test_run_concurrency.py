"""``advance`` holds the run's row lock: advancing one run from many workers at once starts each
ready step exactly once."""

import threading
from unittest import mock

import pytest
from django.db import connection

from executions.models import Execution
from workflows import definitions, runs
from workflows.models import StepRun


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_advances_start_each_step_once(business, make_agent):
    agent = make_agent(capabilities=["code"])
    steps = [{"id": f"s{i}", "agent": agent.pk} for i in range(4)]
    workflow = definitions.create_workflow(business=business, name="wide", definition={"steps": steps})
    with mock.patch("workflows.runs._enqueue_advance"):  # the workers below do the advancing
        run = runs.start_run(workflow=workflow, input={})
    barrier = threading.Barrier(6)

    def work():
        try:
            barrier.wait()
            runs.advance(run_id=run.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Execution.objects.filter(workflow_run_id=run.pk).count() == 4
    assert set(StepRun.objects.filter(run=run).values_list("status", "attempt")) == {("running", 1)}
