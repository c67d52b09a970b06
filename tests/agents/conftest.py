import pytest

from agents.services import create_agent
from governance.roles import Role


@pytest.fixture
def admin_api(api_as):
    return api_as(Role.ADMIN)


@pytest.fixture
def make_agent(business):
    counter = iter(range(10_000))

    def make(name: str | None = None, on=None, **fields):
        return create_agent(business=on or business, name=name or f"agent-{next(counter)}", **fields)

    return make


def beat(client, **body):
    """POST a heartbeat as ``client`` (an agent client); returns the response."""
    body.setdefault("status", "idle")
    return client.post("/api/v1/agent/heartbeat", body, format="json")
