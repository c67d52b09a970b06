"""What the agents' hot paths cost in queries, whatever the fleet or ledger size (the heartbeat's
pin is in tests/agents/test_heartbeat_cache.py: no query at all in steady state)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.services import start_execution

pytestmark = pytest.mark.django_db


def report(n: int, **extra) -> dict:
    return {
        "external_id": f"ext-{n}",
        "status": "success",
        "model": "gpt-4o-mini",
        "model_provider": "openai",
        "input_tokens": 1200,
        "output_tokens": 150,
        "duration_ms": 2300,
        **extra,
    }


def count(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries)


def claim(client):
    return client.post("/api/v1/agent/executions/claim", {"wait_seconds": 0}, format="json")


def test_a_claim_costs_a_fixed_number_of_queries(pull_agent, pull_api):
    assert claim(pull_api).status_code == 204  # the key and its rate are cached from here on
    start_execution(agent=pull_agent, trigger="manual")
    # Lock the oldest pending row with its business (SKIP LOCKED), mark it running, its event; in
    # the claim's own transaction (no savepoint; the test holds a transaction, so no BEGIN/COMMIT
    # either). Not the agent's row (the key names it), and no read back: the answer is the locked row.
    assert count(lambda: claim(pull_api)) == 3


def test_an_empty_claim_costs_the_agent_and_one_look(pull_api):
    claim(pull_api)
    assert count(lambda: claim(pull_api)) == 1  # one SELECT ... FOR UPDATE SKIP LOCKED, finding nothing


def test_a_report_costs_a_fixed_number_of_queries(agent_api):
    agent_api.post("/api/v1/executions/", report(0), format="json")
    # The agent, the idempotency look-up, the row and its idempotency key, the spend booked (its
    # settled reservation, the budgets in scope), the event, and a savepoint (the test holds a
    # transaction; served for real the report is its own transaction, and the rollups' five
    # statements follow its commit). No hold looked up for work reported done, no row read back.
    assert count(lambda: agent_api.post("/api/v1/executions/", report(1), format="json")) == 9


@pytest.mark.postgres  # SQLite caps a statement's parameters, so its bulk INSERTs come in more pieces
def test_a_batch_of_1000_costs_a_fixed_number_of_queries(agent_api):
    agent_api.post("/api/v1/executions/batch", {"executions": [report(0)]}, format="json")
    body = {"executions": [report(n) for n in range(1, 1001)]}
    # Whatever the batch size, and whatever its number of models and days: bulk statements for
    # rows, their idempotency keys, events, and the settlements (governance.bookings).
    assert count(lambda: agent_api.post("/api/v1/executions/batch", body, format="json")) == 16
    mixed = {"executions": [report(n, model=f"m-{n % 3}") for n in range(1001, 2001)]}
    assert count(lambda: agent_api.post("/api/v1/executions/batch", mixed, format="json")) == 16


def test_an_update_costs_a_fixed_number_of_queries(pull_agent, pull_api):
    for _ in range(2):
        start_execution(agent=pull_agent, trigger="manual")
    first, second = claim(pull_api).json(), claim(pull_api).json()
    done = {"status": "success", "model": "gpt-4o-mini", "input_tokens": 1200, "output_tokens": 150}
    assert pull_api.patch(f"/api/v1/executions/{first['id']}", done, format="json").status_code == 200
    answers = []
    # The visible row; in a savepoint: the budget windows to lock, the row locked, its update, the
    # settlement (reservation, lines, budgets in scope, the reservation closed), the event; then the
    # row read back for the answer.
    assert (
        count(
            lambda: answers.append(pull_api.patch(f"/api/v1/executions/{second['id']}", done, format="json"))
        )
        == 14
    )
    assert answers[0].status_code == 200 and answers[0].json()["status"] == "success"
