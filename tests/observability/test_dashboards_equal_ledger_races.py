"""The dashboards equal the ledger after races only PostgreSQL shows: a rebuild while reports arrive
and executions finish, and the catch-up sweep passing a report whose transaction commits late."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from executions.models import Execution
from observability import reconcile, rollups
from observability.rebuild import rebuild
from tests.conftest import agent_client
from tests.observability.test_dashboards_equal_ledger import _report, assert_dashboards_equal_ledger

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _history(agent, n: int) -> None:
    """``n`` finished executions over the last ten days, written without their roll-up."""
    now = timezone.now()
    Execution.objects.bulk_create(
        Execution(
            business_id=agent.business_id,
            agent=agent,
            status="success" if i % 4 else "failed",
            model="gpt-4o",
            created_at=now - timedelta(hours=i * 2, minutes=5),
            started_at=now - timedelta(hours=i * 2, minutes=5),
            finished_at=now - timedelta(hours=i * 2),
            input_tokens=i,
            total_tokens=i,
            cost_usd=Decimal(i) / 1000,
        )
        for i in range(n)
    )


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_it_equals_the_ledger_after_a_rebuild_that_ran_while_reports_arrived(
    viewer_api, agent, business, engine
):
    client = agent_client(agent)
    _history(agent, 120)
    running = [_report(client, status="running")["id"] for _ in range(10)]
    done = threading.Event()

    def run():
        try:
            rebuild(batch=3, engine=engine)
        finally:
            done.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    arrived = 0
    while not done.is_set() or arrived < 12:
        # New reports, a late one from two days ago, and runs (inside the rebuild's ids) finishing.
        _report(client, cost_usd="0.25")
        _report(client, finished_at=timezone.now() - timedelta(days=2), cost_usd="0.5")
        if running:
            patched = client.patch(
                f"/api/v1/executions/{running.pop()}/", {"status": "success"}, format="json"
            )
            assert patched.status_code == 200
        arrived += 1
    thread.join()

    assert Execution.objects.count() == 120 + 10 + 2 * arrived
    assert_dashboards_equal_ledger(viewer_api, business)


def test_the_sweep_counts_a_report_that_committed_after_a_later_one(viewer_api, agent, business):
    """Ids are taken at insert, rows seen at commit: a batch of last week's reports (its rows'
    created_at in the past) committing after a later one must still be swept, not passed by."""
    week_ago = timezone.now() - timedelta(days=7)
    fields = dict(
        business_id=agent.business_id, agent=agent, status="success", model="gpt-4o", cost_usd=Decimal("1")
    )
    inserted, release = threading.Event(), threading.Event()

    def slow_batch():
        try:
            with transaction.atomic():
                Execution.objects.create(created_at=week_ago, finished_at=week_ago, **fields)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_batch)
    thread.start()
    assert inserted.wait(10)
    later = Execution.objects.create(created_at=week_ago, finished_at=week_ago, **fields)
    assert rollups.catch_up() == 1  # the later one; the other is not visible yet
    release.set()
    thread.join()

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        rollups.catch_up()

    assert Execution.objects.filter(pk__lt=later.pk).count() == 1
    assert reconcile.differences() == []
    assert_dashboards_equal_ledger(viewer_api, business)
