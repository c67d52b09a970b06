"""Agents claim ready tasks that fit their capabilities, update the ones they hold, and finishing a
task unblocks (and hands off) its dependents."""

import threading

import pytest
from django.db import connection

from board import services
from board.models import Task, TaskStatus
from tests.conftest import agent_client


def claim(api):
    response = api.post("/api/v1/agent/tasks/claim")
    assert response.status_code in (200, 204), response.content
    return response.json() if response.status_code == 200 else None


@pytest.mark.django_db
def test_an_agent_claims_the_most_urgent_ready_task_it_can_do(business, make_agent):
    coder = make_agent(capabilities=["code"])
    services.create_task(
        business=business, title="needs design", required_capabilities=["design"], priority=3
    )
    low = services.create_task(business=business, title="low", required_capabilities=["code"], priority=0)
    high = services.create_task(business=business, title="high", required_capabilities=["code"], priority=2)
    blocker = services.create_task(business=business, title="blocker")
    services.create_task(business=business, title="blocked", priority=3, blocked_by=[blocker.pk])
    api = agent_client(coder)
    got = claim(api)
    assert (got["id"], got["status"], got["assignee"]) == (high.pk, "in_progress", coder.pk)
    assert claim(api)["id"] == blocker.pk  # normal priority, and it needs no capabilities
    assert claim(api)["id"] == low.pk
    assert claim(api) is None


@pytest.mark.django_db
def test_a_task_assigned_to_someone_else_is_not_claimed(business, make_agent):
    mine, theirs = make_agent(capabilities=["code"]), make_agent(capabilities=["code"])
    services.create_task(business=business, title="for them", assignee=theirs)
    assert claim(agent_client(mine)) is None
    assert claim(agent_client(theirs))["title"] == "for them"


@pytest.mark.django_db
def test_an_agent_updates_only_the_tasks_it_holds(business, make_agent):
    holder, other = make_agent(capabilities=["code"]), make_agent(capabilities=["code"])
    task = services.create_task(business=business, title="t")
    api = agent_client(holder)
    claim(api)
    response = api.patch(
        f"/api/v1/tasks/{task.pk}", {"status": "review", "comment": "PR opened"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "review"
    assert task.comments.filter(kind="comment", body="PR opened", agent=holder).exists()
    denied = agent_client(other).patch(f"/api/v1/tasks/{task.pk}", {"status": "done"}, format="json")
    assert denied.status_code == 403 and denied.json()["error"] == "not_holder"
    assert (
        agent_client(other)
        .post("/api/v1/tasks/", {"business": "acme", "title": "x"}, format="json")
        .status_code
        == 403
    )
    assert Task.objects.get(pk=task.pk).status == "review"


@pytest.mark.django_db(transaction=True)
def test_finishing_a_task_unblocks_and_hands_off_its_dependents(business, make_agent):
    builder, reviewer, writer = (
        make_agent(capabilities=["code"]),
        make_agent(capabilities=["review"]),
        make_agent(capabilities=["docs"]),
    )
    build = services.create_task(business=business, title="build", required_capabilities=["code"])
    review = services.create_task(business=business, title="review", assignee=reviewer, blocked_by=[build.pk])
    docs = services.create_task(business=business, title="docs", blocked_by=[build.pk])
    api = agent_client(builder)
    claim(api)
    done = api.patch(f"/api/v1/tasks/{build.pk}", {"status": "done", "result": {"pr": 7}, "handoff_to": writer.pk},
                     format="json")  # fmt: skip
    assert done.status_code == 200, done.content
    review.refresh_from_db()
    docs.refresh_from_db()
    assert (review.status, review.assignee_id) == ("assigned", reviewer.pk)
    assert (docs.status, docs.assignee_id) == ("assigned", writer.pk)
    assert claim(agent_client(reviewer))["id"] == review.pk
    from mission_control.models import Event

    assert Event.objects.filter(kind="task.handed_off", data__to_agent=reviewer.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_hand_out_a_task_twice(business, make_agent):
    agents = [make_agent(capabilities=["code"]) for _ in range(8)]
    for i in range(20):
        services.create_task(business=business, title=f"t{i}", required_capabilities=["code"])
    claimed: list[int] = []
    lock, barrier = threading.Lock(), threading.Barrier(len(agents))

    def work(agent):
        try:
            barrier.wait()
            while (task := services.claim_next(agent=agent)) is not None:
                with lock:
                    claimed.append(task.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 20 and len(set(claimed)) == 20
    assert Task.objects.filter(status=TaskStatus.IN_PROGRESS).count() == 20
    assert sum(Task.objects.filter(assignee=a).count() for a in agents) == 20


@pytest.mark.django_db
def test_no_task_is_claimed_under_the_emergency_stop(business, make_agent):
    from governance.stops import engage_emergency_stop

    coder = make_agent(capabilities=["code"])
    services.create_task(business=business, title="t")
    engage_emergency_stop(business=business, reason="incident", actor="ops")
    response = agent_client(coder).post("/api/v1/agent/tasks/claim")
    assert response.status_code == 423 and response.json()["error"] == "emergency_stop"
    assert Task.objects.get().status == "inbox"


@pytest.mark.django_db
def test_a_retried_task_claim_answers_the_task_it_took(business, make_agent):
    coder = make_agent(capabilities=["code"])
    first = services.create_task(business=business, title="first", priority=2)
    second = services.create_task(business=business, title="second", priority=1)
    api = agent_client(coder)
    body = {"claim_id": "c-1"}
    assert api.post("/api/v1/agent/tasks/claim", body, format="json").json()["id"] == first.pk
    again = api.post("/api/v1/agent/tasks/claim", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.pk
    assert Task.objects.get(pk=second.pk).status != TaskStatus.IN_PROGRESS  # not taken and abandoned
    other = api.post("/api/v1/agent/tasks/claim", {"claim_id": "c-2"}, format="json")
    assert other.json()["id"] == second.pk


@pytest.mark.django_db
def test_a_task_claim_refuses_unknown_fields(business, make_agent):
    api = agent_client(make_agent(capabilities=["code"]))
    response = api.post("/api/v1/agent/tasks/claim", {"claimid": "x"}, format="json")
    assert response.status_code == 400
