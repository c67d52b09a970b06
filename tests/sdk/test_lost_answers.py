"""A fleet keeps its work through lost answers (issue 13, item 4): the SDK retries claims and log
appends, and the server answers a retry with what the lost answer said, over real HTTP."""

import httpx
import pytest
from mission_control_sdk import Client

from agents.services import issue_key
from executions.models import Execution, ExecutionLog, Status
from executions.services import start_execution

pytestmark = pytest.mark.django_db(transaction=True)


class LosesFirstAnswer(httpx.HTTPTransport):
    """The request reaches the server and is acted on; its answer is lost once per path."""

    def __init__(self, paths: set[str]):
        super().__init__()
        self.paths, self.lost = paths, []

    def handle_request(self, request):
        response = super().handle_request(request)
        if any(request.url.path.endswith(path) for path in self.paths) and request.url.path not in self.lost:
            response.read()
            self.lost.append(request.url.path)
            raise httpx.ReadError("connection reset after the server answered")
        return response


@pytest.fixture
def flaky_sdk(live_server, agent):
    _, raw = issue_key(agent=agent)
    transport = LosesFirstAnswer({"/executions/claim", "/tasks/claim", "/logs"})
    client = Client(live_server.url, raw, max_retries=3, transport=transport, sleep=lambda s: None)
    yield client, transport
    client.close()


def test_a_claim_whose_answer_was_lost_gets_the_same_execution(flaky_sdk, agent):
    sdk, transport = flaky_sdk
    first = start_execution(agent=agent, trigger="manual", input={"n": 1})
    second = start_execution(agent=agent, trigger="manual", input={"n": 2})
    claimed = sdk.claim_execution()
    assert transport.lost == ["/api/v1/agent/executions/claim"]
    assert claimed["id"] == first.pk
    assert Execution.objects.get(pk=second.pk).status == Status.PENDING  # not taken and abandoned


def test_a_log_append_whose_answer_was_lost_is_stored_once(flaky_sdk, agent):
    sdk, transport = flaky_sdk
    execution = start_execution(agent=agent, trigger="manual", input={})
    sdk.claim_execution()
    rows = sdk.append_logs(execution.pk, [{"message": "one"}, {"message": "two"}])
    assert len(transport.lost) == 2
    assert [row["message"] for row in rows] == ["one", "two"]
    stored = ExecutionLog.objects.filter(execution=execution).order_by("seq")
    assert [(row.seq, row.message) for row in stored] == [(1, "one"), (2, "two")]


def test_a_task_claim_whose_answer_was_lost_gets_the_same_task(flaky_sdk, agent):
    from board import services as board
    from board.models import Task, TaskStatus

    sdk, transport = flaky_sdk
    first = board.create_task(business=agent.business, title="first", priority=2)
    second = board.create_task(business=agent.business, title="second", priority=1)
    claimed = sdk.claim_task()
    assert transport.lost == ["/api/v1/agent/tasks/claim"]
    assert claimed["id"] == first.pk
    assert Task.objects.get(pk=second.pk).status != TaskStatus.IN_PROGRESS  # not taken and abandoned
