from decimal import Decimal

import pytest
from django.test import override_settings

from executions.models import Execution, ExecutionLog
from governance.models import BudgetReservation
from mission_control.models import Event
from tests.conftest import agent_client
from tests.executions.conftest import finished, report


@pytest.mark.django_db
def test_it_records_a_running_report_as_autonomous_work(agent_api, agent):
    response = report(agent_api, input={"ticket": 7})
    assert response.status_code == 201
    body = response.json()
    assert body["trigger"] == "autonomous"
    assert body["status"] == "running"
    row = Execution.objects.get(pk=body["id"])
    assert row.agent == agent and row.business == agent.business and row.input == {"ticket": 7}
    assert Event.objects.filter(kind="execution.started", execution_id=row.pk).exists()
    assert BudgetReservation.objects.filter(ref=f"execution:{row.pk}").exists()


@pytest.mark.django_db
def test_it_answers_the_same_record_for_the_same_body(agent_api):
    first = report(agent_api, external_id="run-1", **finished())
    again = report(agent_api, external_id="run-1", **finished())
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Execution.objects.filter(external_id="run-1").count() == 1


@pytest.mark.django_db
def test_it_refuses_a_different_body_under_the_same_external_id(agent_api):
    first = report(agent_api, external_id="run-1", **finished())
    response = report(agent_api, external_id="run-1", **finished(output={"answer": 42}))
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert response.json()["execution"] == first.json()["id"]
    assert Execution.objects.get().output is None


@pytest.mark.django_db
def test_external_ids_are_per_agent(agent_api, make_agent):
    other = agent_client(make_agent())
    assert report(agent_api, external_id="same", **finished()).status_code == 201
    assert report(other, external_id="same", **finished()).status_code == 201


@pytest.mark.django_db
def test_a_terminal_report_is_costed_settled_and_announced(agent_api):
    response = report(agent_api, **finished(logs=[{"message": "hello"}, {"kind": "prompt", "message": "hi"}]))
    body = response.json()
    assert body["cost_source"] == "computed"
    assert body["cost_usd"] == "0.00350000"  # 1000 in at $2.5/M + 100 out at $10/M
    assert body["duration_ms"] == 2000 and body["total_tokens"] == 1100
    assert body["price_data_version"].startswith("genai-prices")
    row = Execution.objects.get(pk=body["id"])
    assert [log.seq for log in ExecutionLog.objects.filter(execution=row)] == [1, 2]
    assert Event.objects.filter(kind="execution.succeeded", execution_id=row.pk).exists()
    reservation = BudgetReservation.objects.get(ref=f"execution:{row.pk}")
    assert reservation.status == "settled" and reservation.actual_usd == Decimal("0.0035")


@pytest.mark.django_db
def test_a_reported_cost_wins(agent_api):
    body = report(agent_api, **finished(cost_usd="0.000315")).json()
    assert body["cost_usd"] == "0.00031500"
    assert body["cost_source"] == "reported"


@pytest.mark.django_db
def test_an_unknown_model_is_unknown_not_an_error(agent_api):
    response = report(agent_api, **finished(model="no-such-model-xyz", model_provider="nowhere"))
    assert response.status_code == 201
    assert response.json()["cost_source"] == "unknown"
    assert response.json()["cost_usd"] == "0.00000000"


@pytest.mark.django_db
def test_cache_reads_cannot_exceed_input_tokens(agent_api):
    response = report(agent_api, **finished(input_tokens=10, cache_read_tokens=11))
    assert response.status_code == 400
    assert "cache_read_tokens" in response.json()["fields"]
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_token_counts_cannot_be_negative(agent_api):
    response = report(agent_api, **finished(output_tokens=-1))
    assert response.status_code == 400
    assert "output_tokens" in response.json()["fields"]


@pytest.mark.django_db
def test_unknown_fields_are_refused(agent_api):
    response = report(agent_api, **finished(tokens=5))
    assert response.status_code == 400
    assert response.json()["fields"] == {"tokens": ["Unknown field."]}


@pytest.mark.django_db
@override_settings(MC_MAX_REPORT_BYTES=2000)
def test_it_refuses_an_oversized_report_with_413(agent_api):
    response = report(agent_api, **finished(output={"text": "x" * 5000}))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_operators_cannot_report_work(operator_api):
    response = report(operator_api, **finished())
    assert response.status_code == 403


@pytest.mark.django_db
def test_it_needs_credentials(client):
    assert client.post("/api/v1/executions", {}, content_type="application/json").status_code == 401


@pytest.mark.django_db
def test_an_emergency_stop_refuses_new_work_but_records_finished_work(agent_api, business):
    from governance.stops import engage_emergency_stop

    engage_emergency_stop(business=business, reason="drill", actor="system")
    refused = report(agent_api, input={})
    assert refused.status_code == 423
    assert refused.json()["error"] == "emergency_stop"
    assert report(agent_api, **finished()).status_code == 201
    assert Execution.objects.count() == 1
