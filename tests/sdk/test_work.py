"""Claiming and reporting work through the SDK, over real HTTP."""

import pytest
from mission_control_sdk import Immutable

from executions.models import Execution, ExecutionLog
from executions.services import start_execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pull_agent_claims_works_and_finishes_a_manual_run(sdk, agent):
    queued = start_execution(agent=agent, trigger="manual", input={"q": "hello"})
    claimed = sdk.claim_execution(wait_seconds=0)
    assert claimed["id"] == queued.pk and claimed["status"] == "running"
    assert sdk.claim_execution(wait_seconds=0) is None
    sdk.append_logs(
        claimed["id"],
        [
            {"kind": "prompt", "message": "Say hello"},
            {"kind": "tool_call", "message": "search", "data": {"query": "hello"}},
            {"kind": "completion", "message": "Hello!"},
        ],
    )
    sdk.update_execution(
        claimed["id"],
        status="success",
        model="gpt-4o",
        model_provider="openai",
        input_tokens=1200,
        output_tokens=300,
        output={"answer": "Hello!"},
    )
    execution = Execution.objects.get(pk=queued.pk)
    assert execution.status == "success" and execution.total_tokens == 1500
    assert list(ExecutionLog.objects.filter(execution=execution).values_list("kind", flat=True)) == [
        "prompt",
        "tool_call",
        "completion",
    ]
    with pytest.raises(Immutable):
        sdk.update_execution(claimed["id"], status="failed")


def test_an_agent_reports_autonomous_work_once(sdk, agent):
    body = {
        "external_id": "run-1",
        "status": "success",
        "model": "claude-sonnet-4",
        "model_provider": "anthropic",
        "input_tokens": 900,
        "output_tokens": 250,
        "logs": [{"kind": "completion", "message": "done"}],
    }
    first = sdk.report_execution(**body)
    again = sdk.report_execution(**body)
    assert first["id"] == again["id"] and first["trigger"] == "autonomous"
    assert Execution.objects.filter(agent=agent).count() == 1


def test_a_batch_reports_many_at_once(sdk, agent):
    answer = sdk.report_batch([{"status": "success", "model": "gemini-2.5-flash"}, {"status": "nonsense"}])
    ok, bad = answer["results"]
    assert ok["index"] == 0 and ok["id"] and bad["index"] == 1 and "status" in bad["fields"]
    assert Execution.objects.filter(agent=agent).count() == 1
