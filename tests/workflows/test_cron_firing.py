"""Firing a cron job: a ``cron`` execution through the ledger, the overlap policies, governance
refusals recorded on the run, and the tracking figures kept as runs end."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from executions.models import Execution
from governance.services import create_budget
from governance.stops import engage_emergency_stop, release_emergency_stop
from mission_control.models import Event
from workflows import cron, cron_firing
from workflows.models import CronJob, CronRun

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday; jobs below fire every 5 minutes


@pytest.fixture
def clock():
    with time_machine.travel(T0 - timedelta(minutes=1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def worker(pull_agent):
    return pull_agent(("code",))


def make_job(business, agent, **fields):
    return cron.create_job(business=business, name=fields.pop("name", "job"), schedule="*/5 * * * *", agent=agent,
                           **fields)  # fmt: skip


def fire_at(clock, moment, job):
    clock.move_to(moment + timedelta(seconds=1))
    return cron_firing.fire(cron_job_id=job.pk)


def test_firing_starts_a_cron_execution_and_publishes(clock, business, worker):
    job = make_job(business, worker.agent, input={"q": 1})
    run = fire_at(clock, T0, job)
    assert (run.status, run.scheduled_for) == ("running", T0)
    execution = Execution.objects.get(pk=run.execution_id)
    assert (execution.trigger, execution.cron_job_id, execution.input) == ("cron", job.pk, {"q": 1})
    event = Event.objects.get(kind="cron.triggered")
    assert event.data["cron_job"] == job.pk and event.execution_id == execution.pk


def test_firing_twice_for_the_same_slot_starts_one_execution(clock, business, worker):
    job = make_job(business, worker.agent, overlap="allow")
    first = fire_at(clock, T0, job)
    second = cron_firing.fire(cron_job_id=job.pk)
    assert first.pk == second.pk
    assert Execution.objects.count() == 1 and CronRun.objects.count() == 1


def test_overlap_skip_skips_while_a_run_is_active(clock, business, worker):
    job = make_job(business, worker.agent, overlap="skip")
    fire_at(clock, T0, job)
    skipped = fire_at(clock, T0 + timedelta(minutes=5), job)
    assert (skipped.status, skipped.reason) == ("skipped", "overlap")
    assert Execution.objects.count() == 1
    assert Event.objects.filter(kind="cron.skipped").count() == 1


def test_overlap_allow_runs_concurrently(clock, business, worker):
    job = make_job(business, worker.agent, overlap="allow")
    fire_at(clock, T0, job)
    second = fire_at(clock, T0 + timedelta(minutes=5), job)
    assert second.status == "running"
    assert Execution.objects.filter(cron_job_id=job.pk, status="pending").count() == 2


def test_overlap_queue_runs_one_queued_firing_after_the_active_run(clock, business, worker):
    job = make_job(business, worker.agent, overlap="queue")
    first = fire_at(clock, T0, job)
    queued = fire_at(clock, T0 + timedelta(minutes=5), job)
    extra = fire_at(clock, T0 + timedelta(minutes=10), job)
    assert queued.status == "queued"
    assert (extra.status, extra.reason) == ("skipped", "already_queued")
    assert Execution.objects.count() == 1
    claimed = worker.claim()
    assert claimed["id"] == first.execution_id
    worker.succeed(claimed["id"])
    queued.refresh_from_db()
    assert queued.status == "running" and queued.execution_id not in (None, first.execution_id)
    assert CronRun.objects.get(pk=first.pk).status == "success"


def test_a_run_ending_updates_the_tracking_figures(clock, business, worker):
    job = make_job(business, worker.agent, overlap="allow")
    for i, outcome in enumerate(["success", "failed", "success", "success"]):
        fire_at(clock, T0 + timedelta(minutes=5 * i), job)
        claimed = worker.claim()
        worker.report(
            claimed["id"],
            status=outcome,
            duration_ms=1000 * (i + 1),
            error="" if outcome == "success" else "x",
        )
    job.refresh_from_db()
    assert (job.runs_finished, job.runs_succeeded, job.consecutive_failures) == (4, 3, 0)
    assert job.success_rate == 0.75
    assert job.avg_duration_ms == 2500
    assert job.last_status == "success" and job.last_run_at == T0 + timedelta(minutes=15, seconds=1)


def test_it_alerts_once_when_a_job_fails_n_times_in_a_row(clock, business, worker, admin_api):
    job = make_job(business, worker.agent, overlap="allow", failure_alert_after=2)
    for i in range(3):
        fire_at(clock, T0 + timedelta(minutes=5 * i), job)
        worker.fail(worker.claim()["id"])
    alerts = Event.objects.filter(kind="cron.failing")
    assert alerts.count() == 1 and alerts.get().data["consecutive_failures"] == 2
    read = admin_api.get(f"/api/v1/cron-jobs/{job.pk}").json()
    assert (read["consecutive_failures"], read["success_rate"], read["last_status"]) == (3, 0.0, "failed")


def test_the_emergency_stop_refuses_firing_and_holds_then_resumes_jobs(clock, business, worker):
    active = make_job(business, worker.agent, name="active")
    paused = make_job(business, worker.agent, name="paused")
    cron.pause_job(job=paused)
    engage_emergency_stop(business=business, reason="incident", actor="ops")
    active.refresh_from_db()
    assert active.held_by_stop and not active.periodic_task.enabled
    refused = fire_at(clock, T0, active)
    assert (refused.status, refused.reason) == ("refused", "emergency_stop")
    assert not Execution.objects.exists()
    release_emergency_stop(business=business, actor="ops")
    active.refresh_from_db()
    paused.refresh_from_db()
    assert not active.held_by_stop and active.periodic_task.enabled
    assert not paused.enabled and not paused.periodic_task.enabled  # only jobs enabled before resume


def test_a_budget_refusal_is_recorded_on_the_run(clock, business, worker):
    create_budget(business=business, actor="ops", period="month", limit_usd=Decimal("0"))
    job = make_job(business, worker.agent)
    run = fire_at(clock, T0, job)
    assert (run.status, run.reason) == ("refused", "budget_exceeded")
    assert Event.objects.filter(kind="cron.refused", data__reason="budget_exceeded").exists()
    assert not Execution.objects.exists()


def test_a_run_past_its_max_runtime_fails_and_its_execution_is_aborted(clock, business, worker):
    job = make_job(business, worker.agent, max_runtime_s=60)
    run = fire_at(clock, T0, job)
    clock.move_to(T0 + timedelta(seconds=30))
    assert cron_firing.enforce_max_runtime() == []
    clock.move_to(T0 + timedelta(seconds=62))
    assert cron_firing.enforce_max_runtime() == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.reason) == ("failed", "max_runtime_exceeded")
    assert Execution.objects.get(pk=run.execution_id).status == "aborted"  # it was still pending
    assert CronJob.objects.get(pk=job.pk).consecutive_failures == 1


def test_run_now_answers_202_with_a_cron_execution(clock, business, worker, operator_api):
    job = make_job(business, worker.agent)
    response = operator_api.post(f"/api/v1/cron-jobs/{job.pk}/run-now")
    assert response.status_code == 202, response.content
    assert (response.json()["trigger"], response.json()["cron_job"]) == ("cron", job.pk)
    assert CronRun.objects.get(cron_job=job).manual
    again = operator_api.post(f"/api/v1/cron-jobs/{job.pk}/run-now")
    assert again.status_code == 409 and again.json()["error"] == "run_active"


def test_run_now_surfaces_a_refusal(clock, business, worker, operator_api):
    job = make_job(business, worker.agent)
    engage_emergency_stop(business=business, reason="incident", actor="ops")
    response = operator_api.post(f"/api/v1/cron-jobs/{job.pk}/run-now")
    assert response.status_code == 423 and response.json()["error"] == "emergency_stop"
    assert not CronRun.objects.exists()


def test_a_viewer_cannot_run_now(business, agent, viewer_api):
    job = make_job(business, agent)
    assert viewer_api.post(f"/api/v1/cron-jobs/{job.pk}/run-now").status_code == 403


def test_a_run_follows_the_ledgers_retry_of_its_execution(clock, business, worker):
    job = make_job(business, worker.agent, retry_policy={"max_attempts": 2, "initial_interval_s": 0})
    run = fire_at(clock, T0, job)
    first = worker.claim()["id"]
    worker.fail(first)
    run.refresh_from_db()
    retry = worker.claim()
    assert (run.status, run.execution_id, retry["retry_of"]) == ("running", retry["id"], first)
    worker.succeed(retry["id"])
    run.refresh_from_db()
    job.refresh_from_db()
    assert run.status == "success" and (job.runs_finished, job.consecutive_failures) == (1, 0)
