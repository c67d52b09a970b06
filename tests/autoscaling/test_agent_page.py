"""The agent page's autoscaling section: the policy, the chart, the decisions with their reasons."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from autoscaling.services import evaluate
from governance.roles import Role
from tests.autoscaling.conftest import queue
from tests.console.conftest import signed_in

pytestmark = pytest.mark.django_db


def _chart(body: str) -> dict:
    return json.loads(
        re.search(r'<script id="autoscale-chart" type="application/json">(.*?)</script>', body).group(1)
    )


def test_it_charts_replicas_against_queue_depth_with_the_decision_marked(
    make_member, business, worker, policy
):
    queue(worker, 40)
    evaluate(agent_id=worker.pk)
    body = signed_in(make_member(Role.VIEWER, business)).get(f"/agents/{worker.pk}").content.decode()
    chart = _chart(body)
    replicas, depth, marks = (d["data"] for d in chart["datasets"])
    assert (replicas, depth, marks) == ([5], [40], [5])
    assert "40 pending, target 5 per replica: 1 → 5 replicas" in body
    assert 'data-method="PUT"' not in body  # a viewer reads the policy, never edits it


def test_an_admin_gets_the_policy_form(make_member, business, worker):
    body = signed_in(make_member(Role.ADMIN, business)).get(f"/agents/{worker.pk}").content.decode()
    assert f'data-api="/api/v1/agents/{worker.pk}/autoscale" data-method="PUT"' in body
    assert "off: replicas change only by hand" in body


def test_the_section_costs_the_same_queries_whatever_the_number_of_decisions(
    make_member, business, worker, policy
):
    page = signed_in(make_member(Role.VIEWER, business))
    evaluate(agent_id=worker.pk)
    page.get(f"/agents/{worker.pk}")  # the session's first read

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert page.get(f"/agents/{worker.pk}").status_code == 200
        return len(queries)

    one = cost()
    queue(worker, 40)
    for step in range(1, 6):
        with time_machine.travel(timezone.now() + timedelta(seconds=15 * step), tick=False):
            evaluate(agent_id=worker.pk)
    assert cost() == one
