import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from agents.models import Agent, AgentCommand
from autoscaling.models import AutoscaleDecision
from autoscaling.services import evaluate_all
from tests.autoscaling.conftest import queue


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_take_one_decision_per_agent(worker, policy):
    queue(worker, 40)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            results.append(evaluate_all())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    with time_machine.travel(timezone.now(), tick=False):  # all four inside one period
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors
    # Four sweeps within one period (15 s): one decision, one scale command, the rest skipped.
    assert AutoscaleDecision.objects.filter(agent=worker).count() == 1
    assert AgentCommand.objects.filter(agent=worker, type="scale").count() == 1
    assert sum(r["scaled"] for r in results) == 1 and sum(r["skipped"] for r in results) == 3
    assert Agent.objects.get(pk=worker.pk).scale == 5
