"""The board's admin pages answer, and saving a task there goes through the board's services."""

import pytest
from django.urls import reverse

from board import services
from board.models import Epic, Task
from governance.models import AuditEntry
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


def test_it_creates_and_deletes_an_epic_in_the_admin_through_the_services(admin_client, business):
    response = admin_client.post(
        reverse("admin:board_epic_add"),
        {"business": business.pk, "title": "Launch", "description": "", "status": "open"},
    )
    assert response.status_code == 302
    epic = Epic.objects.get(title="Launch")
    assert Event.objects.filter(kind="epic.created", data__epic=epic.pk).exists()
    task = services.create_task(business=business, title="t", epic=epic)
    response = admin_client.post(reverse("admin:board_epic_delete", args=[epic.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Epic.objects.exists()
    task.refresh_from_db()
    assert task.epic_id is None  # its tasks stay, without an epic
    entry = AuditEntry.objects.get(action="epic.delete")
    assert (entry.actor, entry.target_id, entry.before["title"]) == ("root", str(epic.pk), "Launch")
    assert Event.objects.filter(kind="epic.deleted", data__epic=epic.pk).exists()


def test_it_shows_a_refused_task_on_the_form_and_writes_nothing(admin_client, business, other_business):
    other = services.create_epic(business=other_business, title="theirs")
    response = admin_client.post(
        reverse("admin:board_task_add"),
        {"business": business.pk, "epic": other.pk, "title": "cross", "status": "inbox", "priority": 1,
         "required_capabilities": "[]", "result": "null",
         "comments-TOTAL_FORMS": 0, "comments-INITIAL_FORMS": 0,
         "-1-TOTAL_FORMS": 0, "-1-INITIAL_FORMS": 0},
    )  # fmt: skip
    assert response.status_code == 200  # the form again, with the service's sentence
    assert "errornote" in response.content.decode() or "errorlist" in response.content.decode()
    assert not Task.objects.filter(title="cross").exists()
    assert not Event.objects.filter(kind="task.created").exists()
