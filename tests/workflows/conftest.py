"""Fixtures for the workflows app: admins and operators of ``business``, pull agents with keys."""

import pytest

from tests.conftest import agent_client


@pytest.fixture
def pull_agent(make_agent):
    """A pull agent with a key: ``.claim()`` its next execution, ``.report(id, **fields)``."""

    def make(capabilities=("code",), name=None):
        return PullAgent(make_agent(name, capabilities=list(capabilities)))

    return make


class PullAgent:
    def __init__(self, agent):
        self.agent = agent
        self.api = agent_client(agent)
        # Online, as a running pull agent is: steps that name a capability are routed to online agents.
        assert self.api.post("/api/v1/agent/heartbeat", {"status": "idle"}, format="json").status_code == 200

    def claim(self) -> dict | None:
        response = self.api.post("/api/v1/agent/executions/claim", {}, format="json")
        assert response.status_code in (200, 204), response.content
        return response.json() if response.status_code == 200 else None

    def report(self, execution_id: int, **fields) -> dict:
        response = self.api.patch(f"/api/v1/executions/{execution_id}", fields, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    def succeed(self, execution_id: int, output=None) -> dict:
        return self.report(execution_id, status="success", output=output if output is not None else {})

    def fail(self, execution_id: int, error: str = "boom") -> dict:
        return self.report(execution_id, status="failed", error=error)
