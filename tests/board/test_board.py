"""The task board over HTTP: epics, tasks, dependencies with cycle refusal, readiness, comments."""

import pytest

from board.models import Task, TaskComment, TaskDependency
from governance.models import AuditEntry
from mission_control.models import Event

pytestmark = pytest.mark.django_db


def new_task(api, title, **fields):
    response = api.post("/api/v1/tasks/", {"business": "acme", "title": title, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_it_creates_an_epic_with_tasks_and_counts_them(operator_api):
    epic = operator_api.post("/api/v1/epics/", {"business": "acme", "title": "Launch"}, format="json").json()
    first = new_task(operator_api, "spec", epic=epic["id"], priority="high")
    new_task(operator_api, "build", epic=epic["id"], blocked_by=[first["id"]])
    operator_api.patch(f"/api/v1/tasks/{first['id']}", {"status": "done"}, format="json")
    read = operator_api.get(f"/api/v1/epics/{epic['id']}").json()
    assert (read["task_count"], read["done_count"]) == (2, 1)
    assert first["priority"] == "high"


def test_a_task_with_open_blockers_is_blocked_and_becomes_ready_when_they_are_done(operator_api):
    a = new_task(operator_api, "a")
    b = new_task(operator_api, "b")
    c = new_task(operator_api, "c", blocked_by=[a["id"], b["id"]])
    assert (c["status"], c["ready"], c["blocked_by"]) == ("blocked", False, [a["id"], b["id"]])
    assert operator_api.get(f"/api/v1/tasks/{a['id']}").json()["blocks"] == [c["id"]]
    operator_api.patch(f"/api/v1/tasks/{a['id']}", {"status": "done"}, format="json")
    assert Task.objects.get(pk=c["id"]).status == "blocked"
    operator_api.patch(f"/api/v1/tasks/{b['id']}", {"status": "done"}, format="json")
    read = operator_api.get(f"/api/v1/tasks/{c['id']}").json()
    assert (read["status"], read["ready"]) == ("inbox", True)
    assert Event.objects.filter(kind="task.ready", data__task=c["id"]).exists()
    ready = operator_api.get("/api/v1/tasks/", {"business": "acme", "ready": "true"}).json()["results"]
    assert [t["id"] for t in ready] == [c["id"]]


def test_it_refuses_a_dependency_cycle(operator_api):
    a = new_task(operator_api, "a")
    b = new_task(operator_api, "b", blocked_by=[a["id"]])
    c = new_task(operator_api, "c", blocked_by=[b["id"]])
    response = operator_api.patch(f"/api/v1/tasks/{a['id']}", {"blocked_by": [c["id"]]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "dependency_cycle"
    assert not TaskDependency.objects.filter(blocked_id=a["id"]).exists()
    itself = operator_api.patch(f"/api/v1/tasks/{a['id']}", {"blocked_by": [a["id"]]}, format="json")
    assert itself.json()["error"] == "dependency_cycle"


def test_it_refuses_a_blocker_from_another_business(operator_api, other_business):
    foreign = Task.objects.create(business=other_business, title="theirs")
    response = operator_api.post("/api/v1/tasks/", {"business": "acme", "title": "t", "blocked_by": [foreign.pk]},
                                 format="json")  # fmt: skip
    assert response.status_code == 400 and "blocked_by" in response.json()["fields"]
    assert not Task.objects.filter(title="t").exists()


def test_parent_and_subtasks(operator_api):
    parent = new_task(operator_api, "parent")
    child = new_task(operator_api, "child", parent=parent["id"])
    assert operator_api.get(f"/api/v1/tasks/{parent['id']}").json()["subtasks"] == [child["id"]]
    loop = operator_api.patch(f"/api/v1/tasks/{parent['id']}", {"parent": child["id"]}, format="json")
    assert loop.status_code == 400 and loop.json()["error"] == "parent_cycle"


def test_assigning_a_task_moves_it_to_assigned(operator_api, agent):
    task = new_task(operator_api, "t")
    read = operator_api.patch(f"/api/v1/tasks/{task['id']}", {"assignee": agent.pk}, format="json").json()
    assert (read["status"], read["assignee"]) == ("assigned", agent.pk)


def test_comments_and_activity_are_kept_in_order(operator_api):
    task = new_task(operator_api, "t")
    operator_api.post(f"/api/v1/tasks/{task['id']}/comments", {"body": "first"}, format="json")
    operator_api.patch(f"/api/v1/tasks/{task['id']}", {"status": "in_progress"}, format="json")
    lines = operator_api.get(f"/api/v1/tasks/{task['id']}/comments").json()["results"]
    assert [(line["kind"], line["body"]) for line in lines] == [
        ("activity", "created"),
        ("comment", "first"),
        ("activity", "status inbox → in_progress"),
    ]


def test_viewers_read_but_do_not_edit_and_strangers_get_404(viewer_api, operator_api, make_member):
    from tests.conftest import client_for

    task = new_task(operator_api, "t")
    assert viewer_api.get(f"/api/v1/tasks/{task['id']}").status_code == 200
    assert viewer_api.patch(f"/api/v1/tasks/{task['id']}", {"title": "x"}, format="json").status_code == 403
    stranger = client_for(make_member("owner", None))
    assert stranger.get(f"/api/v1/tasks/{task['id']}").status_code == 404


def test_deleting_a_blocker_readies_its_dependents(operator_api):
    a = new_task(operator_api, "a")
    b = new_task(operator_api, "b", blocked_by=[a["id"]])
    assert operator_api.delete(f"/api/v1/tasks/{a['id']}").status_code == 204
    assert Task.objects.get(pk=b["id"]).status == "inbox"
    assert not TaskComment.objects.filter(task_id=a["id"]).exists()


def test_deleting_an_epic_is_audited_and_announced_and_keeps_its_tasks(operator_api):
    epic = operator_api.post("/api/v1/epics/", {"business": "acme", "title": "Launch"}, format="json").json()
    task = new_task(operator_api, "spec", epic=epic["id"])
    assert operator_api.delete(f"/api/v1/epics/{epic['id']}").status_code == 204
    assert Task.objects.get(pk=task["id"]).epic_id is None
    entry = AuditEntry.objects.get(action="epic.delete")
    assert (entry.target_id, entry.before["tasks"]) == (str(epic["id"]), 1)
    assert Event.objects.filter(kind="epic.deleted", data__epic=epic["id"]).exists()
