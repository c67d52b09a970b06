import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.models import Execution, ExecutionLog
from mission_control.models import Event
from tests.executions.conftest import finished


def batch(client, items):
    return client.post("/api/v1/executions/batch", {"executions": items}, format="json")


@pytest.mark.django_db
def test_it_answers_207_with_a_result_per_item(agent_api):
    response = batch(agent_api, [finished(external_id="a"), finished(external_id="b")])
    assert response.status_code == 207
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, 201), (1, 201)]
    assert set(Execution.objects.values_list("pk", flat=True)) == {r["id"] for r in results}


@pytest.mark.django_db
def test_one_bad_item_never_sinks_the_others(agent_api):
    response = batch(agent_api, [finished(), finished(input_tokens=-5), {"status": "nope"}, finished()])
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 201]
    assert results[1]["error"] == "validation_error"
    assert "input_tokens" in results[1]["fields"]
    assert "status" in results[2]["fields"]
    assert Execution.objects.count() == 2


@pytest.mark.django_db
def test_it_is_idempotent_across_and_within_batches(agent_api):
    first = batch(agent_api, [finished(external_id="x")]).json()["results"][0]
    results = batch(
        agent_api,
        [
            finished(external_id="x"),  # same body as before: the same record
            finished(external_id="x", output={"changed": True}),  # different body: conflict
            finished(external_id="y"),
            finished(external_id="y"),  # repeated inside the batch: the same record
            finished(external_id="y", error="other"),  # and a conflict with it
        ],
    ).json()["results"]
    assert results[0] == {"index": 0, "status": 200, "id": first["id"]}
    assert results[1]["status"] == 409 and results[1]["error"] == "idempotency_conflict"
    assert results[2]["status"] == 201
    assert results[3] == {"index": 3, "status": 200, "id": results[2]["id"]}
    assert results[4]["status"] == 409
    assert Execution.objects.count() == 2


@pytest.mark.django_db
def test_it_refuses_more_than_1000_items_with_413(agent_api):
    response = batch(agent_api, [{} for _ in range(1001)])
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.django_db
def test_it_writes_logs_and_events_for_every_item(agent_api):
    items = [finished(logs=[{"message": f"line {i}"}]) for i in range(5)]
    results = batch(agent_api, items).json()["results"]
    ids = [r["id"] for r in results]
    assert ExecutionLog.objects.filter(execution_id__in=ids).count() == 5
    assert Event.objects.filter(kind="execution.succeeded", execution_id__in=ids).count() == 5


@pytest.mark.django_db
def test_a_batch_is_written_with_bulk_statements_not_a_query_per_row(agent_api):
    def queries_for(n, prefix):
        items = [finished(external_id=f"{prefix}{i}", logs=[{"message": "m"}]) for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            assert batch(agent_api, items).status_code == 207
        return len(ctx.captured_queries)

    small, big = queries_for(5, "small"), queries_for(200, "big")
    # Bulk statements: on PostgreSQL exactly the same count; SQLite splits a bulk INSERT by its
    # bound-variable limit (a few dozen rows per statement), never one statement per row.
    extra = 0 if connection.vendor == "postgresql" else 200 // 10
    assert big <= small + extra


@pytest.mark.django_db
def test_running_items_are_refused_by_governance_and_the_rest_recorded(agent_api, business):
    from governance.stops import engage_emergency_stop

    engage_emergency_stop(business=business, reason="drill", actor="system")
    results = batch(agent_api, [{"input": {}}, finished()]).json()["results"]
    assert results[0]["status"] == 423 and results[0]["error"] == "emergency_stop"
    assert results[1]["status"] == 201


@pytest.mark.django_db(transaction=True)
def test_batch_events_reach_live_listeners_after_commit(agent_api):
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from mission_control.events import ALL_GROUP
    from mission_control.models import Event

    layer = get_channel_layer()

    async def listen():
        channel = await layer.new_channel()
        await layer.group_add(ALL_GROUP, channel)
        return channel

    async def woken_upto(channel, newest):
        # Wake-ups, not events: live readers read the event table (mission_control/stream.py).
        upto = 0
        while upto < newest:
            message = await asyncio.wait_for(layer.receive(channel), 5)
            assert message["type"] == "events.wake"
            upto = max(upto, message["upto"])
        return upto

    channel = async_to_sync(listen)()
    ids = [r["id"] for r in batch(agent_api, [finished(), finished()]).json()["results"]]
    events = list(Event.objects.filter(execution_id__in=ids, kind="execution.succeeded").order_by("id"))
    assert [e.execution_id for e in events] == ids
    assert async_to_sync(woken_upto)(channel, events[-1].pk) >= events[-1].pk


@pytest.mark.django_db(transaction=True)
def test_finished_rows_are_announced_one_by_one_and_as_a_batch(agent_api):
    from executions.signals import execution_finished, executions_batch_finished

    rows, batches = [], []

    def on_row(sender, execution, batch=False, **kwargs):
        rows.append((execution.pk, batch))

    def on_batch(sender, executions, **kwargs):
        batches.append([e.pk for e in executions])

    execution_finished.connect(on_row)
    executions_batch_finished.connect(on_batch)
    try:
        ids = [r["id"] for r in batch(agent_api, [finished(), finished(), {"input": {}}]).json()["results"]]
    finally:
        execution_finished.disconnect(on_row)
        executions_batch_finished.disconnect(on_batch)
    assert rows == [(ids[0], True), (ids[1], True)]
    assert batches == [ids[:2]]


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_rolled_up_from_its_rows_as_written_and_counted_once(agent_api):
    from observability.models import HourlyRollup, LifetimeRollup
    from observability.receivers import roll_up_finished_batch

    items = [finished(), finished(status="failed", input_tokens=1200), {"input": {}}]
    ids = [r["id"] for r in batch(agent_api, items).json()["results"]]
    rows = list(Execution.objects.filter(pk__in=ids))
    totals = list(
        LifetimeRollup.objects.values_list("status", "executions", "input_tokens").order_by("status")
    )
    assert totals == [("failed", 1, 1200), ("success", 1, 1000)]  # the running one is not counted
    roll_up_finished_batch(sender=Execution, executions=rows)  # again, e.g. a retried on-commit hook
    assert (
        list(LifetimeRollup.objects.values_list("status", "executions", "input_tokens").order_by("status"))
        == totals
    )
    assert sum(HourlyRollup.objects.values_list("executions", flat=True)) == 2
