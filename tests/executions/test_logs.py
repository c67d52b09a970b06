import pytest

from executions.models import ExecutionLog
from tests.conftest import client_for
from tests.executions.conftest import report


def post_logs(client, pk, entries):
    return client.post(f"/api/v1/executions/{pk}/logs", entries, format="json")


@pytest.fixture
def run(agent_api):
    return report(agent_api, input={}).json()["id"]


@pytest.mark.django_db
def test_it_appends_entries_in_order(agent_api, run):
    first = post_logs(agent_api, run, [{"message": "a"}, {"message": "b", "level": "warning"}])
    second = post_logs(agent_api, run, [{"kind": "tool_call", "message": "c", "data": {"tool": "grep"}}])
    assert first.status_code == second.status_code == 201
    assert [e["seq"] for e in first.json() + second.json()] == [1, 2, 3]
    assert list(ExecutionLog.objects.filter(execution_id=run).values_list("message", flat=True)) == [
        "a",
        "b",
        "c",
    ]


@pytest.mark.django_db
def test_it_lists_entries_oldest_first_with_filters(agent_api, viewer_api, run):
    post_logs(
        agent_api,
        run,
        [
            {"level": "info", "kind": "prompt", "message": "Summarise the quarterly report"},
            {"level": "error", "kind": "api_call", "message": "upstream timeout from billing"},
            {"level": "info", "kind": "completion", "message": "The report shows growth"},
        ],
    )
    url = f"/api/v1/executions/{run}/logs"
    assert [e["seq"] for e in viewer_api.get(url).json()["results"]] == [1, 2, 3]
    assert [e["seq"] for e in viewer_api.get(f"{url}?level=error").json()["results"]] == [2]
    assert [e["seq"] for e in viewer_api.get(f"{url}?kind=prompt,completion").json()["results"]] == [1, 3]
    assert [e["seq"] for e in viewer_api.get(f"{url}?q=timeout").json()["results"]] == [2]


@pytest.mark.django_db
def test_it_refuses_bad_entries_and_writes_none(agent_api, run):
    response = post_logs(agent_api, run, [{"message": "ok"}, {"kind": "gossip", "message": "x"}])
    assert response.status_code == 400
    assert not ExecutionLog.objects.exists()


@pytest.mark.django_db
def test_it_refuses_more_than_1000_entries(agent_api, run):
    response = post_logs(agent_api, run, [{"message": "x"}] * 1001)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.django_db
def test_logs_may_follow_the_end_of_an_execution(agent_api, run):
    agent_api.patch(f"/api/v1/executions/{run}", {"status": "success"}, format="json")
    assert post_logs(agent_api, run, [{"message": "flushed late"}]).status_code == 201


@pytest.mark.django_db
def test_strangers_and_viewers_cannot_write_and_strangers_cannot_read(
    viewer_api, run, make_member, other_business
):
    assert post_logs(viewer_api, run, [{"message": "x"}]).status_code == 403
    stranger = client_for(make_member("owner", other_business))
    assert stranger.get(f"/api/v1/executions/{run}/logs").status_code == 404
    assert post_logs(stranger, run, [{"message": "x"}]).status_code == 404


@pytest.mark.django_db
def test_a_log_line_keeps_the_execution_alive(agent_api, run):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from executions.models import Execution

    before = Execution.objects.get(pk=run).last_seen_at
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        post_logs(agent_api, run, [{"message": "still here"}])
    assert Execution.objects.get(pk=run).last_seen_at - before >= timedelta(minutes=5)


@pytest.mark.django_db
def test_it_copies_the_executions_agent_and_business_onto_each_entry(agent_api, agent, run):
    post_logs(agent_api, run, [{"message": "a"}])
    ExecutionLog.objects.bulk_create([ExecutionLog(execution_id=run, seq=2, message="named by id only")])
    ExecutionLog(execution_id=run, seq=3, message="saved alone").save()
    copies = set(ExecutionLog.objects.filter(execution_id=run).values_list("agent_id", "business_id"))
    assert copies == {(agent.pk, agent.business_id)}
