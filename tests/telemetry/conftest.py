"""A live server for the exporters: ``manage.py serve`` on a port of telemetry's range."""

import socket
import uuid

import httpx
import pytest

from tests.e2e.conftest import _start, _stop

PORTS = range(8140, 8148)  # this suite's range; 8148-8149 are Prometheus's


def port_in_range(ports=PORTS) -> int:
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"every port in {ports.start}-{ports.stop - 1} is taken")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    # One server for the module (a start migrates a fresh database); each test makes its own agent.
    running = _start(tmp_path_factory.mktemp("live"), {}, port=port_in_range())
    yield running
    _stop(running)


def agent_key(stack) -> tuple[int, str]:
    """A business, an agent and its key, made over the API like an operator would."""
    api: httpx.Client = stack.api()
    name = f"otel-{uuid.uuid4().hex[:8]}"
    slug = f"b-{name}"
    assert api.post("/api/v1/businesses/", json={"name": slug, "slug": slug}).status_code == 201
    agent = api.post("/api/v1/agents/", json={"business": slug, "name": name}).json()
    key = api.post(f"/api/v1/agents/{agent['id']}/keys", json={}).json()["key"]
    return agent["id"], key
