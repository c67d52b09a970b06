import pytest
from mission_control_sdk import Client

from agents.services import issue_key


@pytest.fixture
def sdk(live_server, agent):
    """An SDK client for ``agent`` against a real HTTP server (pytest-django's live_server)."""
    _, raw = issue_key(agent=agent)
    client = Client(live_server.url, raw, timeout=10, max_retries=1, backoff_base=0.05)
    yield client
    client.close()
