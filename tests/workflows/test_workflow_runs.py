"""Workflow runs end to end over HTTP, with pull agents doing the work (claim, then report):
fan-out and fan-in, a skipped branch, a retried step, a timed-out step, cancellation, re-run."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from executions.models import Execution
from mission_control.models import Event
from workflows.models import Workflow, WorkflowRun
from workflows.tasks import sweep_workflow_runs

pytestmark = pytest.mark.django_db(transaction=True)

TRIAGE = [
    {"id": "classify", "capability": "triage", "input": {"ticket": {"$ref": "input.ticket"}}},
    {"id": "answer", "capability": "support", "depends_on": ["classify"],
     "when": "steps.classify.output.label != 'urgent'", "retry": {"max_attempts": 2, "initial_interval_s": 0},
     "input": {"label": {"$ref": "steps.classify.output.label"}}},
    {"id": "escalate", "capability": "support", "depends_on": ["classify"],
     "when": "steps.classify.output.label == 'urgent'"},
    {"id": "enrich", "capability": "support", "depends_on": ["classify"], "input": {"fixed": 1}},
    {"id": "summarize", "capability": "triage", "depends_on": ["answer", "escalate", "enrich"],
     "input": {"answer": {"$ref": "steps.answer.output.text"}, "extra": {"$ref": "steps.enrich.output"},
               "escalated": {"$ref": "steps.escalate.status"}}},
]  # fmt: skip


def define(api, steps, name="flow") -> int:
    response = api.post("/api/v1/workflows/", {"business": "acme", "name": name, "definition": {"steps": steps}},
                        format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    return response.json()["id"]


def start(api, workflow_id, payload=None) -> dict:
    response = api.post(f"/api/v1/workflows/{workflow_id}/runs", {"input": payload or {}}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def steps_of(api, run_id) -> dict:
    run = api.get(f"/api/v1/workflow-runs/{run_id}").json()
    return {s["step"]: s for s in run["steps"]} | {"_run": run}


def test_fan_out_fan_in_with_a_skipped_branch_and_a_retried_step(admin_api, operator_api, pull_agent):
    triager, supporter = pull_agent(["triage"]), pull_agent(["support"])
    run = start(operator_api, define(admin_api, TRIAGE), {"ticket": "cannot log in"})
    assert run["status"] == "running" and run["version"] == 1

    work = triager.claim()
    assert (work["trigger"], work["workflow_run"], work["input"]) == (
        "workflow",
        run["id"],
        {"ticket": "cannot log in"},
    )
    triager.succeed(work["id"], {"label": "normal"})

    state = steps_of(operator_api, run["id"])
    assert (state["answer"]["status"], state["enrich"]["status"], state["escalate"]["status"]) == (
        "running", "running", "skipped")  # fmt: skip
    first, second = supporter.claim(), supporter.claim()  # fan-out: both wait for the same agent
    by_step = {first["workflow_step"]: first, second["workflow_step"]: second}
    assert by_step["answer"]["input"] == {"label": "normal"}
    supporter.fail(by_step["answer"]["id"], "flaky upstream")
    retried = supporter.claim()
    assert (retried["workflow_step"], retried["retry_count"]) == ("answer", 1)
    supporter.succeed(retried["id"], {"text": "reset your password"})
    assert steps_of(operator_api, run["id"])["summarize"]["status"] == "pending"  # fan-in waits for enrich
    supporter.succeed(by_step["enrich"]["id"], {"lang": "en"})

    final = triager.claim()
    assert final["input"] == {
        "answer": "reset your password",
        "extra": {"lang": "en"},
        "escalated": "skipped",
    }
    triager.succeed(final["id"], {"summary": "done"})

    state = steps_of(operator_api, run["id"])
    assert state["_run"]["status"] == "success"
    assert state["_run"]["output"] == {"summarize": {"summary": "done"}}
    assert (state["answer"]["attempt"], state["answer"]["execution"]) == (2, retried["id"])
    kinds = list(Event.objects.filter(data__workflow_run=run["id"]).values_list("kind", flat=True))
    for kind in ("workflow.run_started", "workflow.step_started", "workflow.step_skipped",
                 "workflow.step_retrying", "workflow.step_succeeded", "workflow.run_succeeded"):  # fmt: skip
        assert kind in kinds
    assert Execution.objects.filter(workflow_run_id=run["id"]).count() == 5


SLOW = [
    {"id": "prep", "capability": "code"},
    {"id": "slow", "capability": "code", "depends_on": ["prep"], "timeout_s": 60},
    {
        "id": "wrap",
        "capability": "code",
        "depends_on": ["slow"],
        "input": {"from": {"$ref": "steps.slow.output"}},
    },
]


def test_a_timed_out_step_fails_the_run_and_a_rerun_keeps_what_succeeded(admin_api, operator_api, pull_agent):
    worker = pull_agent(["code"])
    run = start(operator_api, define(admin_api, SLOW))
    prep = worker.claim()
    worker.succeed(prep["id"], {"ready": True})
    slow = worker.claim()
    assert slow["workflow_step"] == "slow"
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        assert sweep_workflow_runs() == 1
    state = steps_of(operator_api, run["id"])
    assert state["_run"]["status"] == "failed"
    assert (state["slow"]["status"], state["slow"]["error"]) == ("failed", "timed out after 60 s")
    assert state["wrap"]["status"] == "cancelled"
    assert Execution.objects.get(pk=slow["id"]).abort_requested_at is not None  # the agent is told to stop
    assert Event.objects.filter(kind="workflow.step_timed_out", data__workflow_run=run["id"]).exists()

    response = operator_api.post(f"/api/v1/workflow-runs/{run['id']}/rerun")
    assert response.status_code == 201, response.content
    rerun = response.json()
    again = {s["step"]: s for s in rerun["steps"]}
    assert (again["prep"]["status"], again["prep"]["reused"], again["prep"]["execution"]) == (
        "success",
        True,
        prep["id"],
    )
    assert again["slow"]["status"] == "running"
    slow_again = worker.claim()
    assert (slow_again["workflow_step"], slow_again["workflow_run"]) == ("slow", rerun["id"])
    worker.succeed(slow_again["id"], {"n": 42})
    wrap = worker.claim()
    assert wrap["input"] == {"from": {"n": 42}}
    worker.succeed(wrap["id"])
    assert WorkflowRun.objects.get(pk=rerun["id"]).status == "success"
    assert Execution.objects.filter(workflow_run_id=rerun["id"], workflow_step="prep").count() == 0


def test_cancelling_a_run_aborts_its_work_and_starts_nothing_more(admin_api, operator_api, pull_agent):
    worker = pull_agent(["code"])
    run = start(operator_api, define(admin_api, SLOW))
    prep = worker.claim()  # running on the agent
    response = operator_api.post(f"/api/v1/workflow-runs/{run['id']}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert {s["status"] for s in response.json()["steps"]} == {"cancelled"}
    assert Execution.objects.get(pk=prep["id"]).abort_requested_at is not None
    assert worker.claim() is None
    again = operator_api.post(f"/api/v1/workflow-runs/{run['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "not_cancellable"


def test_a_step_may_fail_without_failing_the_run(admin_api, operator_api, pull_agent):
    worker = pull_agent(["code"])
    steps = [
        {"id": "try", "capability": "code", "continue_on_failure": True},
        {
            "id": "after",
            "capability": "code",
            "depends_on": ["try"],
            "input": {"was": {"$ref": "steps.try.status"}},
        },
    ]
    run = start(operator_api, define(admin_api, steps))
    worker.fail(worker.claim()["id"])
    after = worker.claim()
    assert after["input"] == {"was": "failed"}
    worker.succeed(after["id"])
    assert WorkflowRun.objects.get(pk=run["id"]).status == "success"


def test_a_running_run_keeps_its_version(admin_api, operator_api, pull_agent, make_agent):
    worker, agent = pull_agent(["code"]), make_agent(capabilities=["other"])
    workflow_id = define(admin_api, [{"id": "one", "capability": "code"}])
    run = start(operator_api, workflow_id)
    admin_api.patch(f"/api/v1/workflows/{workflow_id}", {"definition": {"steps": [{"id": "two", "agent": agent.pk}]}},
                    format="json")  # fmt: skip
    worker.succeed(worker.claim()["id"])
    read = operator_api.get(f"/api/v1/workflow-runs/{run['id']}").json()
    assert (read["version"], read["status"], [s["step"] for s in read["steps"]]) == (1, "success", ["one"])


def test_a_webhook_starts_a_run_with_its_body_as_input(admin_api, pull_agent, client):
    worker = pull_agent(["code"])
    workflow_id = define(
        admin_api, [{"id": "one", "capability": "code", "input": {"who": {"$ref": "input.user"}}}]
    )
    hook = admin_api.post(f"/api/v1/workflows/{workflow_id}/webhook").json()
    response = client.post(
        f"/api/v1/hooks/workflows/{hook['token']}", {"user": "ada"}, content_type="application/json"
    )
    assert response.status_code == 202, response.content
    assert WorkflowRun.objects.get(pk=response.json()["id"]).trigger == "webhook"
    assert worker.claim()["input"] == {"who": "ada"}
    wrong = client.post("/api/v1/hooks/workflows/mcw_nope", {}, content_type="application/json")
    assert wrong.status_code == 404


def test_no_run_starts_under_the_emergency_stop(admin_api, operator_api, business, agent):
    from governance.stops import engage_emergency_stop

    workflow_id = define(admin_api, [{"id": "one", "agent": agent.pk}])
    engage_emergency_stop(business=business, reason="incident", actor="ops")
    response = operator_api.post(f"/api/v1/workflows/{workflow_id}/runs", {"input": {}}, format="json")
    assert response.status_code == 423 and response.json()["error"] == "emergency_stop"
    assert not WorkflowRun.objects.exists()


def test_a_cron_job_runs_a_workflow_and_records_its_outcome(admin_api, business, pull_agent):
    from workflows import cron, cron_firing

    worker = pull_agent(["code"])
    workflow_id = define(admin_api, [{"id": "one", "capability": "code"}])
    workflow = Workflow.objects.get(pk=workflow_id)
    job = cron.create_job(business=business, name="wf", schedule="* * * * *", workflow=workflow)
    run = cron_firing.fire(cron_job_id=job.pk)
    assert run.status == "running" and run.workflow_run.trigger == "cron"
    worker.succeed(worker.claim()["id"])
    run.refresh_from_db()
    job.refresh_from_db()
    assert run.status == "success" and job.runs_succeeded == 1
