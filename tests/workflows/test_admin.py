"""The admin pages of the workflows app answer, and saving a cron job there keeps beat in step."""

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from mission_control import periodic
from workflows import cron, definitions
from workflows.models import CronJob

pytestmark = pytest.mark.django_db

MODELS = [
    "cronjob",
    "cronrun",
    "workflow",
    "workflowversion",
    "workflowrun",
    "steprun",
]


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "pw-secret-123")
    )
    return client


def test_every_list_and_change_page_answers(admin_client, business, agent):
    job = cron.create_job(business=business, name="job", schedule="0 * * * *", agent=agent)
    workflow = definitions.create_workflow(
        business=business, name="wf", definition={"steps": [{"id": "a", "agent": agent.pk}]}
    )
    for model in MODELS:
        assert admin_client.get(reverse(f"admin:workflows_{model}_changelist")).status_code == 200, model
    for model, obj in (("cronjob", job), ("workflow", workflow)):
        assert admin_client.get(reverse(f"admin:workflows_{model}_change", args=[obj.pk])).status_code == 200


def test_adding_a_cron_job_in_the_admin_creates_its_beat_entry(admin_client, business, agent):
    response = admin_client.post(
        reverse("admin:workflows_cronjob_add"),
        {"business": business.pk, "name": "from admin", "schedule": "15 3 * * *", "timezone": "Asia/Tokyo",
         "agent": agent.pk, "input": "{}", "enabled": "on", "overlap": "skip", "grace_seconds": 300,
         "failure_alert_after": 3, "retry_policy": "null"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    job = CronJob.objects.get(name="from admin")
    assert str(PeriodicTask.objects.get(pk=job.periodic_task_id).crontab.timezone) == "Asia/Tokyo"


def test_a_bad_schedule_in_the_admin_is_a_form_error(admin_client, business, agent):
    response = admin_client.post(
        reverse("admin:workflows_cronjob_add"),
        {"business": business.pk, "name": "bad", "schedule": "every day", "timezone": "UTC", "agent": agent.pk,
         "input": "{}", "overlap": "skip", "grace_seconds": 300, "failure_alert_after": 3, "retry_policy": "null"},
    )  # fmt: skip
    assert response.status_code == 200 and b"5 fields" in response.content
    assert not CronJob.objects.exists()


def test_the_sweeps_are_registered_with_beat():
    names = periodic.sync()
    assert {"mc:workflows.sweep_cron", "mc:workflows.sweep_workflow_runs"} <= set(names)
    assert PeriodicTask.objects.get(name="mc:workflows.sweep_cron").task == "workflows.tasks.sweep_cron"


def test_changing_a_cron_job_in_the_admin_moves_its_beat_entry(admin_client, business, agent):
    job = cron.create_job(business=business, name="job", schedule="0 * * * *", agent=agent)
    response = admin_client.post(
        reverse("admin:workflows_cronjob_change", args=[job.pk]),
        {"name": "job", "schedule": "*/10 * * * *", "timezone": "UTC", "agent": agent.pk, "input": "{}",
         "enabled": "on", "overlap": "skip", "grace_seconds": 300, "failure_alert_after": 3, "retry_policy": "null"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:3000]
    job.refresh_from_db()
    assert (job.schedule, job.periodic_task.crontab.minute) == ("*/10 * * * *", "*/10")
