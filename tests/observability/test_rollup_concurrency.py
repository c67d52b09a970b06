from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from observability import rollups
from observability.models import HourlyRollup
from tests.observability.conftest import at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn, *args):
    try:
        return fn(*args)
    finally:
        connection.close()


def test_it_counts_an_execution_once_when_rolled_up_concurrently(agent, make_execution):
    execution = make_execution(announce=False, started_at=at(10), finished_at=at(10, 1), cost="0.5")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: _in_thread(rollups.roll_up_execution, execution.pk), range(12)))

    assert results.count(True) == 1
    row = HourlyRollup.objects.get(agent=agent, hour=at(10))
    assert (row.executions, row.cost_usd) == (1, Decimal("0.5"))


def test_it_adds_concurrent_executions_of_one_hour_without_losing_any(agent, make_execution):
    ids = [
        make_execution(announce=False, started_at=at(10), finished_at=at(10, 1), cost="0.25").pk
        for _ in range(20)
    ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda pk: _in_thread(rollups.roll_up_execution, pk), ids))

    row = HourlyRollup.objects.get(agent=agent, hour=at(10))
    assert (row.executions, row.cost_usd, row.busy_ms) == (20, Decimal(5), 20 * 60_000)
