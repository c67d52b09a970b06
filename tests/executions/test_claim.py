import threading

import pytest
from django.db import connection

from executions import dispatch
from executions.models import Execution
from executions.services import start_execution
from mission_control.models import Event
from tests.conftest import agent_client


def claim(client, wait=0):
    return client.post("/api/v1/agent/executions/claim", {"wait_seconds": wait}, format="json")


@pytest.mark.django_db
def test_it_hands_out_the_oldest_pending_execution_now_running(pull_agent, pull_api):
    first = start_execution(agent=pull_agent, trigger="manual", input={"n": 1})
    start_execution(agent=pull_agent, trigger="manual", input={"n": 2})
    response = claim(pull_api)
    assert response.status_code == 200
    assert response.json()["id"] == first.pk and response.json()["status"] == "running"
    assert response.json()["input"] == {"n": 1}
    first.refresh_from_db()
    assert first.status == "running" and first.started_at is not None
    assert Event.objects.filter(kind="execution.started", execution_id=first.pk).exists()


@pytest.mark.django_db
def test_the_answer_is_the_row_as_the_ledger_shows_it(pull_agent, pull_api):
    start_execution(agent=pull_agent, trigger="manual", input={"n": 1}, timeout_s=600)
    answer = claim(pull_api).json()  # written from the row it locked, not read again
    assert answer == pull_api.get(f"/api/v1/executions/{answer['id']}").json()
    assert answer["deadline_at"] is not None and answer["cost_corrected"] is False


@pytest.mark.django_db
def test_it_answers_204_when_there_is_nothing(pull_api):
    response = claim(pull_api)
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.django_db
def test_an_agent_only_claims_its_own_work(pull_agent, make_agent):
    start_execution(agent=pull_agent, trigger="manual")
    other = agent_client(make_agent("other-puller"))
    assert claim(other).status_code == 204


@pytest.mark.django_db
def test_it_long_polls_until_work_arrives(pull_agent, pull_api, monkeypatch):
    waits = []

    def work_arrives(bell, seconds):
        waits.append(seconds)
        if len(waits) == 2:
            start_execution(agent=pull_agent, trigger="manual", input={"late": True})

    monkeypatch.setattr(dispatch, "wait_for_work", work_arrives)
    response = claim(pull_api, wait=30)
    assert response.status_code == 200 and response.json()["input"] == {"late": True}
    assert len(waits) == 2 and all(0 < w <= 30 for w in waits)


@pytest.mark.django_db
def test_it_holds_no_transaction_while_waiting(pull_api, monkeypatch):
    # pytest wraps the test in a transaction; a claim holding its own while waiting would show
    # as a savepoint open beyond that one.
    depth = len(connection.savepoint_ids)
    seen = []
    monkeypatch.setattr(
        dispatch, "wait_for_work", lambda bell, seconds: seen.append(len(connection.savepoint_ids))
    )
    assert claim(pull_api, wait=0.05).status_code == 204
    assert seen and set(seen) == {depth}


@pytest.mark.django_db
def test_wait_seconds_is_bounded(pull_api):
    response = claim(pull_api, wait=31)
    assert response.status_code == 400
    assert "wait_seconds" in response.json()["fields"]


@pytest.mark.django_db
def test_people_cannot_claim(operator_api):
    assert claim(operator_api).status_code == 403


@pytest.mark.django_db
def test_retries_waiting_for_their_backoff_are_not_claimable(pull_agent, pull_api):
    from datetime import timedelta

    from django.utils import timezone

    start_execution(agent=pull_agent, trigger="manual", not_before=timezone.now() + timedelta(minutes=1))
    assert claim(pull_api).status_code == 204


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_get_the_same_execution(pull_agent):
    total = 60
    for i in range(total):
        start_execution(agent=pull_agent, trigger="manual", input={"i": i})
    clients = [agent_client(pull_agent) for _ in range(12)]
    claimed: list[int] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def worker(client):
        try:
            while True:
                response = claim(client)
                if response.status_code == 204:
                    return
                assert response.status_code == 200, response.content
                with lock:
                    claimed.append(response.json()["id"])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(claimed) == total and len(set(claimed)) == total
    assert not Execution.objects.filter(status="pending").exists()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_waiting_claim_wakes_on_new_work_without_polling(pull_agent, monkeypatch):
    from executions import claim_wakeups

    claim_wakeups.listener.ensure_started()
    assert claim_wakeups.listener.connected.wait(5)
    sleeps = []
    real_wait = dispatch.wait_for_work
    monkeypatch.setattr(dispatch, "wait_for_work", lambda bell, s: (sleeps.append(s), real_wait(bell, s)))
    got = []
    waiter = threading.Thread(
        target=lambda: got.append(dispatch.claim(agent_id=pull_agent.pk, wait_seconds=20))
    )
    waiter.start()
    while claim_wakeups.bells.count() == 0 or not sleeps:
        threading.Event().wait(0.01)
    queued = start_execution(agent=pull_agent, trigger="manual")
    waiter.join(10)
    assert got and got[0].pk == queued.pk
    # One sleep for the whole wait (no polling), ended by the bell well before its 20 s.
    assert len(sleeps) == 1 and sleeps[0] > 15


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_wait_that_hears_no_ring_answers_without_another_look(pull_agent):
    """Renewing long-polls are most of a waiting fleet's load: a wait that times out with the
    channel up all along costs the first look only, as a claim that does not wait at all."""
    from django.test.utils import CaptureQueriesContext

    from executions import claim_wakeups

    claim_wakeups.listener.ensure_started()
    assert claim_wakeups.listener.connected.wait(5)
    with CaptureQueriesContext(connection) as no_wait:
        assert dispatch.claim(agent_id=pull_agent.pk, wait_seconds=0) is None
    with CaptureQueriesContext(connection) as waited:
        assert dispatch.claim(agent_id=pull_agent.pk, wait_seconds=0.3) is None
    assert len(waited) == len(no_wait)
    # Work that rings during the wait is still claimed.
    got = []

    def wait() -> None:
        got.append(dispatch.claim(agent_id=pull_agent.pk, wait_seconds=10))
        connection.close()

    waiter = threading.Thread(target=wait)
    waiter.start()
    while claim_wakeups.bells.count() == 0:
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)
    queued = start_execution(agent=pull_agent, trigger="manual")
    waiter.join(10)
    assert got and got[0] is not None and got[0].pk == queued.pk
