"""The board's admin pages answer, and saving a task there goes through the board's services."""

import pytest
from django.urls import reverse

from board import services
from board.models import Task
from mission_control.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "pw-secret-123")
    )
    return client


def test_it_answers_every_list_and_change_page(admin_client, business):
    epic = services.create_epic(business=business, title="e")
    task = services.create_task(business=business, title="t", epic=epic)
    services.comment(task=task, body="note")
    for model in ("epic", "task", "taskcomment", "taskdependency"):
        assert admin_client.get(reverse(f"admin:board_{model}_changelist")).status_code == 200, model
    for model, obj in (("epic", epic), ("task", task)):
        assert admin_client.get(reverse(f"admin:board_{model}_change", args=[obj.pk])).status_code == 200


def test_it_creates_a_task_in_the_admin_through_the_service(admin_client, business):
    response = admin_client.post(
        reverse("admin:board_task_add"),
        {"business": business.pk, "title": "from admin", "status": "inbox", "priority": 1,
         "required_capabilities": "[]", "result": "null",
         "comments-TOTAL_FORMS": 0, "comments-INITIAL_FORMS": 0,
         "-1-TOTAL_FORMS": 0, "-1-INITIAL_FORMS": 0},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    task = Task.objects.get(title="from admin")
    assert Event.objects.filter(kind="task.created", data__task=task.pk).exists()
