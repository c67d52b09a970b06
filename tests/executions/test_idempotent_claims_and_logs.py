"""Claims and log appends carry the agent's ids so that a retry changes nothing (issue 13, item 4)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from executions.models import CostCorrection, Execution, ExecutionLog, Status
from executions.services import start_execution

CLAIM = "/api/v1/agent/executions/claim"


def claim(api, claim_id=None):
    body = {"wait_seconds": 0} | ({"claim_id": claim_id} if claim_id else {})
    return api.post(CLAIM, body, format="json")


@pytest.mark.django_db
def test_a_retried_claim_answers_the_execution_it_took(agent, agent_api):
    first = start_execution(agent=agent, trigger="manual", input={})
    second = start_execution(agent=agent, trigger="manual", input={})
    assert claim(agent_api, "c-1").json()["id"] == first.pk
    again = claim(agent_api, "c-1")
    assert again.status_code == 200 and again.json()["id"] == first.pk
    assert Execution.objects.get(pk=second.pk).status == Status.PENDING
    assert claim(agent_api, "c-2").json()["id"] == second.pk


@pytest.mark.django_db
def test_a_retried_claim_answers_its_execution_after_it_finished(agent, agent_api):
    first = start_execution(agent=agent, trigger="manual", input={})
    claim(agent_api, "c-1")
    agent_api.patch(f"/api/v1/executions/{first.pk}/", {"status": "success"}, format="json")
    again = claim(agent_api, "c-1")
    assert (again.json()["id"], again.json()["status"]) == (first.pk, "success")


@pytest.mark.django_db
def test_a_retried_claim_answers_the_corrected_cost_of_its_finished_execution(agent, agent_api):
    first = start_execution(agent=agent, trigger="manual", input={})
    claim(agent_api, "c-1")
    agent_api.patch(f"/api/v1/executions/{first.pk}/", {"status": "success"}, format="json")
    CostCorrection.objects.create(
        execution=Execution.objects.get(pk=first.pk), cost_usd=Decimal("0.5"), cost_source="computed"
    )
    again = claim(agent_api, "c-1").json()
    assert (again["cost_usd"], again["cost_corrected"]) == ("0.50000000", True)
    assert again == agent_api.get(f"/api/v1/executions/{first.pk}").json()


@pytest.mark.django_db
def test_a_claim_id_is_the_agents_own(agent, agent_api, business, make_member):
    from agents.services import create_agent
    from tests.conftest import agent_client

    other = create_agent(business=business, name="other", capabilities=[])
    mine = start_execution(agent=agent, trigger="manual", input={})
    theirs = start_execution(agent=other, trigger="manual", input={})
    assert claim(agent_api, "same").json()["id"] == mine.pk
    assert claim(agent_client(other), "same").json()["id"] == theirs.pk


@pytest.mark.django_db
def test_a_claim_id_longer_than_64_is_refused(agent_api):
    response = claim(agent_api, "x" * 65)
    assert response.status_code == 400 and response.json()["error"] == "validation_error"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_racing_its_own_retry_takes_one_execution(agent, agent_api):
    from tests.conftest import agent_client

    for _ in range(4):
        start_execution(agent=agent, trigger="manual", input={})
    clients = [agent_client(agent) for _ in range(4)]
    answers, barrier = [], threading.Barrier(4)

    def run(api):
        barrier.wait()
        try:
            answers.append(claim(api, "raced").json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(api,)) for api in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and len(set(answers)) == 1
    assert Execution.objects.filter(agent=agent, status=Status.RUNNING).count() == 1


def append(api, pk, entries):
    return api.post(f"/api/v1/executions/{pk}/logs", entries, format="json")


@pytest.mark.django_db
def test_a_retried_log_append_adds_nothing_and_answers_the_same(agent, agent_api):
    execution = start_execution(agent=agent, trigger="manual", input={})
    entries = [{"message": "a", "client_id": "e1"}, {"message": "b", "client_id": "e2"}]
    first = append(agent_api, execution.pk, entries)
    again = append(agent_api, execution.pk, entries)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert ExecutionLog.objects.filter(execution=execution).count() == 2


@pytest.mark.django_db
def test_a_partly_stored_append_adds_only_what_is_missing(agent, agent_api):
    execution = start_execution(agent=agent, trigger="manual", input={})
    append(agent_api, execution.pk, [{"message": "a", "client_id": "e1"}])
    response = append(
        agent_api,
        execution.pk,
        [{"message": "a", "client_id": "e1"}, {"message": "b", "client_id": "e2"}, {"message": "c"}],
    )
    assert [(row["seq"], row["message"]) for row in response.json()] == [(1, "a"), (2, "b"), (3, "c")]
    assert ExecutionLog.objects.filter(execution=execution).count() == 3


@pytest.mark.django_db
def test_entries_without_client_ids_are_appended_every_time(agent, agent_api):
    execution = start_execution(agent=agent, trigger="manual", input={})
    append(agent_api, execution.pk, [{"message": "a"}])
    append(agent_api, execution.pk, [{"message": "a"}])
    assert ExecutionLog.objects.filter(execution=execution).count() == 2


def test_the_schema_documents_the_client_ids(client, db):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    assert "claim_id" in components["ClaimRequest"]["properties"]
    assert "client_id" in components["LogEntryRequest"]["properties"]
