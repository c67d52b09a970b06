from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from executions.models import Execution
from executions.signals import execution_finished
from observability import rollups
from observability.models import DailyRollup, HourlyRollup, RolledUpExecution, SourceRollup
from observability.tasks import catch_up_rollups
from tests.observability.conftest import at

pytestmark = pytest.mark.django_db


def _row(agent, hour, model="gpt-4o"):
    return HourlyRollup.objects.get(agent=agent, model=model, hour=hour)


def test_it_rolls_up_a_finished_execution_into_the_hour_it_finished(agent, make_execution):
    make_execution(
        started_at=at(10, 5),
        finished_at=at(10, 6),
        duration_ms=60_000,
        input_tokens=1200,
        output_tokens=300,
        cache_read_tokens=200,
        cost="0.00031500",
    )
    make_execution(status="failed", started_at=at(10, 20), finished_at=at(10, 20, 30), duration_ms=30_000)

    row = _row(agent, at(10))
    assert (row.executions, row.success, row.failed, row.aborted) == (2, 1, 1, 0)
    assert (row.duration_ms_sum, row.duration_ms_max, row.duration_count) == (90_000, 60_000, 2)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.total_tokens) == (
        1200,
        300,
        200,
        1500,
    )
    assert row.cost_usd == Decimal("0.00031500")
    assert row.busy_ms == 90_000


def test_it_counts_a_redelivered_execution_once(agent, make_execution):
    execution = make_execution(started_at=at(10), finished_at=at(10, 1), cost="1.5")
    execution_finished.send(sender=Execution, execution=execution)
    rollups.roll_up_execution(execution.pk)

    row = _row(agent, at(10))
    assert (row.executions, row.cost_usd) == (1, Decimal("1.5"))
    assert RolledUpExecution.objects.filter(execution_id=execution.pk).count() == 1


def test_it_ignores_executions_that_are_not_terminal(agent, make_execution):
    execution = make_execution(status="running", started_at=at(10))
    execution_finished.send(sender=Execution, execution=execution)

    assert not HourlyRollup.objects.exists()
    assert not RolledUpExecution.objects.exists()


def test_it_splits_busy_time_over_every_hour_an_execution_ran(agent, make_execution):
    make_execution(started_at=at(10, 40), finished_at=at(12, 10, 0), duration_ms=90 * 60_000)

    busy = dict(HourlyRollup.objects.filter(agent=agent).values_list("hour", "busy_ms"))
    assert busy == {at(10): 20 * 60_000, at(11): 60 * 60_000, at(12): 10 * 60_000}
    assert _row(agent, at(12)).executions == 1
    assert _row(agent, at(11)).executions == 0


def test_it_keeps_busy_parts_exact_to_the_millisecond(agent, make_execution):
    start = at(10, 59, 59) + timedelta(microseconds=999_500)
    make_execution(started_at=start, finished_at=start + timedelta(milliseconds=1), duration_ms=1)

    assert sum(HourlyRollup.objects.values_list("busy_ms", flat=True)) == 1


def test_it_keeps_separate_rows_per_agent_and_model(agent, second_agent, make_execution):
    make_execution(started_at=at(10), finished_at=at(10, 1), model="gpt-4o", cost="1")
    make_execution(started_at=at(10), finished_at=at(10, 1), model="claude-3-5", cost="2")
    make_execution(agent=second_agent, started_at=at(10), finished_at=at(10, 1), cost="4")

    costs = {(r.agent_id, r.model): r.cost_usd for r in HourlyRollup.objects.all()}
    assert costs == {
        (agent.pk, "gpt-4o"): Decimal(1),
        (agent.pk, "claude-3-5"): Decimal(2),
        (second_agent.pk, "gpt-4o"): Decimal(4),
    }


def test_it_counts_cron_runs_and_wait_time(agent, make_execution):
    make_execution(
        trigger="cron", created_at=at(9, 59), started_at=at(10), finished_at=at(10, 1), cron_job_id=7
    )
    make_execution(trigger="cron", status="failed", started_at=at(10), finished_at=at(10, 2), cron_job_id=7)
    make_execution(trigger="manual", created_at=at(10), started_at=at(10, 0, 30), finished_at=at(10, 3))

    row = _row(agent, at(10))
    assert (row.cron_total, row.cron_success) == (2, 1)
    assert (row.wait_ms_sum, row.wait_count) == (60_000 + 0 + 30_000, 3)
    cron = SourceRollup.objects.get(kind="cron", key="7")
    assert (cron.executions, cron.success, cron.failed) == (2, 1, 1)


def test_it_rolls_up_workflow_steps_by_step(agent, make_execution):
    make_execution(trigger="workflow", workflow_step="classify", started_at=at(10), finished_at=at(10, 1))

    step = SourceRollup.objects.get(kind="step")
    assert step.key.endswith(":classify")
    assert step.executions == 1


def test_it_catches_up_executions_no_receiver_counted(agent, make_execution):
    counted = make_execution(started_at=at(10), finished_at=at(10, 1), cost="1")
    make_execution(announce=False, started_at=at(10, 5), finished_at=at(10, 6), cost="2")
    still_running = make_execution(status="running", started_at=at(10, 7))

    with time_machine.travel(at(11), tick=False):
        assert catch_up_rollups.delay().get() == 1
        assert catch_up_rollups.delay().get() == 0
    assert _row(agent, at(10)).cost_usd == Decimal(3)

    # The one that was still running is looked at again without rescanning the ledger.
    Execution.objects.filter(pk=still_running.pk).update(status="failed", finished_at=at(11, 30))
    with time_machine.travel(at(12), tick=False):
        assert rollups.catch_up() == 1
    assert _row(agent, at(11)).failed == 1
    assert RolledUpExecution.objects.count() == 3
    assert counted.pk in set(RolledUpExecution.objects.values_list("execution_id", flat=True))


def test_it_rescans_recent_rows_in_case_a_lower_id_was_not_committed_yet(agent, make_execution):
    with time_machine.travel(at(10, 59), tick=False):
        make_execution(announce=False, started_at=at(10, 58), finished_at=at(10, 59), created_at=at(10, 59))
        rollups.catch_up()
    from observability.models import RollupCursor

    assert RollupCursor.objects.get(name="ledger").next_id == 0


def test_it_rebuilds_the_rollups_from_the_ledger(agent, second_agent, make_execution):
    make_execution(started_at=at(10, 30), finished_at=at(11, 30), cost="1.25", input_tokens=10)
    make_execution(agent=second_agent, status="aborted", started_at=at(9), finished_at=at(9, 10))
    before = sorted(HourlyRollup.objects.values_list("agent", "hour", "executions", "busy_ms", "cost_e8"))
    HourlyRollup.objects.filter(hour=at(11)).update(executions=99, busy_ms=0)

    call_command("rebuild_rollups", stdout=StringIO())

    after = sorted(HourlyRollup.objects.values_list("agent", "hour", "executions", "busy_ms", "cost_e8"))
    assert after == before


def test_it_rebuilds_only_the_days_since_without_double_counting_busy_time(agent, make_execution):
    make_execution(started_at=at(23, 30, day=9), finished_at=at(0, 30), duration_ms=3_600_000)
    make_execution(started_at=at(9, day=9), finished_at=at(9, 30, day=9), duration_ms=1_800_000)
    HourlyRollup.objects.filter(hour=at(9, day=9)).update(executions=5)  # older days are left alone

    # Rounded down to the UTC midnight starting 2025-03-10.
    call_command("rebuild_rollups", "--since", "2025-03-10T11:00:00Z", stdout=StringIO())

    busy = dict(HourlyRollup.objects.values_list("hour", "busy_ms"))
    assert busy == {at(9, day=9): 1_800_000, at(23, day=9): 1_800_000, at(0): 1_800_000}
    assert _row(agent, at(9, day=9)).executions == 5
    assert _row(agent, at(0)).executions == 1
    days = dict(DailyRollup.objects.values_list("day", "busy_ms"))
    assert days == {at(0, day=9): 3_600_000, at(0): 1_800_000}


def test_it_folds_the_hours_into_utc_days(agent, make_execution):
    make_execution(started_at=at(10), finished_at=at(10, 1), duration_ms=60_000, cost="1", input_tokens=5)
    make_execution(status="failed", started_at=at(15), finished_at=at(15, 3), duration_ms=180_000, cost="2")
    make_execution(started_at=at(10, day=11), finished_at=at(10, 1, day=11), cost="4")

    day = DailyRollup.objects.get(agent=agent, day=at(0))
    assert (day.executions, day.success, day.failed, day.cost_usd) == (2, 1, 1, Decimal(3))
    assert (day.duration_ms_sum, day.duration_ms_max, day.busy_ms, day.input_tokens) == (
        240_000,
        180_000,
        240_000,
        5,
    )
    assert DailyRollup.objects.get(day=at(0, day=11)).cost_usd == Decimal(4)


def test_it_rebuilds_one_business_only(agent, make_execution, other_business):
    from agents.services import create_agent

    theirs = create_agent(business=other_business, name="other")
    make_execution(started_at=at(10), finished_at=at(10, 1))
    make_execution(agent=theirs, started_at=at(10), finished_at=at(10, 1))
    HourlyRollup.objects.update(executions=7)

    call_command("rebuild_rollups", "--business", "acme", stdout=StringIO())

    assert _row(agent, at(10)).executions == 1
    assert _row(theirs, at(10)).executions == 7


def test_it_refuses_an_unknown_business_to_rebuild(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nope"):
        call_command("rebuild_rollups", "--business", "nope")


def test_it_rolls_up_a_batch_report_in_one_go(agent_api, agent, django_capture_on_commit_callbacks):
    body = {
        "executions": [
            {
                "status": "success",
                "started_at": "2025-03-10T10:00:00Z",
                "finished_at": "2025-03-10T10:01:00Z",
                "model": "gpt-4o",
                "cost_usd": "0.5",
            },
            {
                "status": "failed",
                "started_at": "2025-03-10T10:02:00Z",
                "finished_at": "2025-03-10T10:03:00Z",
                "model": "gpt-4o",
                "cost_usd": "0.25",
            },
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_api.post("/api/v1/executions/batch", body, format="json")

    assert response.status_code == 207, response.content
    row = _row(agent, at(10))
    assert (row.executions, row.success, row.failed, row.cost_usd) == (2, 1, 1, Decimal("0.75"))


def test_an_ended_execution_in_hand_is_the_row_committed(
    agent_api, make_agent, django_capture_on_commit_callbacks
):
    """The rollup of a report or a finish counts the instance the service ended, not a re-read:
    every field the rollups read equals the committed row (times, quantized cost, totals)."""
    from executions.lifecycle import finish, lock_execution
    from executions.services import start_execution

    ended = []
    execution_finished.connect(lambda execution, **kw: ended.append(execution), weak=False, dispatch_uid="t")
    report = {"status": "failed", "model": "gpt-4o", "model_provider": "openai", "input_tokens": 1234,
              "output_tokens": 77, "cache_read_tokens": 5, "duration_ms": 1999, "error": "boom"}  # fmt: skip
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert agent_api.post("/api/v1/executions/", report, format="json").status_code == 201
            run = start_execution(agent=make_agent(mode="pull"), trigger="manual")
            finish(lock_execution(run.pk), status="success", reported_cost=Decimal("0.123456789"))
    finally:
        execution_finished.disconnect(dispatch_uid="t")
    assert len(ended) == 2
    for execution in ended:
        stored = Execution.objects.values(*rollups.FIELDS).get(pk=execution.pk)
        assert {name: getattr(execution, name) for name in rollups.FIELDS} == stored
