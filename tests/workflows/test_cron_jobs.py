"""Cron jobs over HTTP: validation naming the field, the beat entry kept in step, roles."""

import json

import pytest
from django_celery_beat.models import PeriodicTask

from governance.models import AuditEntry
from workflows.models import CronJob

pytestmark = pytest.mark.django_db


def body(agent, **extra):
    return {"business": "acme", "name": "nightly", "schedule": "30 2 * * *", "timezone": "Europe/Paris",
            "agent": agent.pk, "input": {"report": "usage"}, **extra}  # fmt: skip


def test_it_creates_a_job_with_its_beat_entry(admin_api, agent):
    response = admin_api.post(
        "/api/v1/cron-jobs/", body(agent, overlap="queue", grace_seconds=120), format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["next_run_at"] and data["state"] == "active"
    assert data["schedule_description"] == "At 02:30 AM"
    job = CronJob.objects.get(pk=data["id"])
    task = PeriodicTask.objects.get(pk=job.periodic_task_id)
    assert task.task == "workflows.tasks.fire_cron_job"
    assert json.loads(task.kwargs) == {"cron_job_id": job.pk}
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("30", "2", "Europe/Paris")
    assert task.enabled and task.expire_seconds == 120
    assert AuditEntry.objects.filter(action="cron_job.create", target_id=str(job.pk)).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("schedule", "61 * * * *"), ("schedule", "* * * *"), ("schedule", "0 0 1 * 1"), ("schedule", "0 0 L * *"),
     ("timezone", "Mars/Olympus"), ("timezone", "../etc/passwd")],
)  # fmt: skip
def test_it_refuses_a_bad_schedule_or_zone_naming_the_field(admin_api, agent, field, value):
    response = admin_api.post("/api/v1/cron-jobs/", body(agent, **{field: value}), format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert list(response.json()["fields"]) == [field]
    assert (
        not CronJob.objects.exists()
        and not PeriodicTask.objects.filter(name__startswith="cron-job:").exists()
    )


def test_it_needs_exactly_one_target(admin_api, agent):
    data = body(agent)
    del data["agent"]
    response = admin_api.post("/api/v1/cron-jobs/", data, format="json")
    assert response.status_code == 400
    assert "agent" in response.json()["fields"]


def test_it_refuses_an_agent_of_another_business(admin_api, make_agent, other_business):
    stranger = make_agent(on=other_business, capabilities=["code"])
    response = admin_api.post("/api/v1/cron-jobs/", body(stranger), format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"agent": ["No such agent in this business."]}


def test_an_operator_cannot_create_jobs_and_a_stranger_sees_nothing(
    operator_api, make_member, agent, admin_api
):
    assert operator_api.post("/api/v1/cron-jobs/", body(agent), format="json").status_code == 403
    job_id = admin_api.post("/api/v1/cron-jobs/", body(agent), format="json").json()["id"]
    from tests.conftest import client_for

    stranger = client_for(make_member("admin", None))
    assert stranger.get(f"/api/v1/cron-jobs/{job_id}").status_code == 404
    assert stranger.get("/api/v1/cron-jobs/").json()["results"] == []


def test_changing_the_schedule_moves_the_beat_entry(admin_api, agent):
    job_id = admin_api.post("/api/v1/cron-jobs/", body(agent), format="json").json()["id"]
    response = admin_api.patch(f"/api/v1/cron-jobs/{job_id}", {"schedule": "*/5 9-17 * * 1-5", "timezone": "UTC"},
                               format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    crontab = CronJob.objects.get(pk=job_id).periodic_task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, str(crontab.timezone)) == (
        "*/5",
        "9-17",
        "1-5",
        "UTC",
    )


def test_pause_and_resume_switch_the_beat_entry(admin_api, operator_api, agent):
    job_id = admin_api.post("/api/v1/cron-jobs/", body(agent), format="json").json()["id"]
    paused = operator_api.post(f"/api/v1/cron-jobs/{job_id}/pause")
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    assert paused.json()["next_run_at"] is None
    assert not CronJob.objects.get(pk=job_id).periodic_task.enabled
    resumed = operator_api.post(f"/api/v1/cron-jobs/{job_id}/resume/")
    assert resumed.json()["state"] == "active"
    assert CronJob.objects.get(pk=job_id).periodic_task.enabled


def test_deleting_a_job_removes_its_beat_entry(admin_api, agent):
    job_id = admin_api.post("/api/v1/cron-jobs/", body(agent), format="json").json()["id"]
    task_id = CronJob.objects.get(pk=job_id).periodic_task_id
    assert admin_api.delete(f"/api/v1/cron-jobs/{job_id}").status_code == 204
    assert not CronJob.objects.filter(pk=job_id).exists()
    assert not PeriodicTask.objects.filter(pk=task_id).exists()


def test_a_duplicate_name_is_a_conflict(admin_api, agent):
    admin_api.post("/api/v1/cron-jobs/", body(agent), format="json")
    response = admin_api.post("/api/v1/cron-jobs/", body(agent), format="json")
    assert response.status_code == 409 and response.json()["error"] == "name_taken"
