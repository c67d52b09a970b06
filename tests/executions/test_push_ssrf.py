"""SSRF through push endpoints (issue 12, item 3): the attacks, kept as tests.

An admin pointed a push agent at http://127.0.0.1:8199/ and the worker POSTed signed work there,
reporting the target's status. The test settings allow loopback (their push agents run on it); these
tests take that away, as production has it.
"""

import socket

import pytest
from django.test import Client

from executions.models import Execution
from executions.services import start_execution
from mission_control import outbound

PUBLIC = "93.184.216.34"


@pytest.fixture
def no_allow_list(settings):
    settings.MC_OUTBOUND_ALLOW = []


@pytest.fixture
def dns(monkeypatch):
    """Names under ``.test`` resolve to whatever the test says, now."""
    table: dict[str, str] = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8199/work",
        "http://localhost:8199/work",
        "http://[::1]:8199/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://100.100.100.200/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0:8199/",
    ],
)
def test_it_refuses_a_push_endpoint_on_our_own_network(no_allow_list, api_as, url):
    admin = api_as("admin")
    response = admin.post(
        "/api/v1/agents/",
        {"business": "acme", "name": "evil", "mode": "push", "endpoint_url": url},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "url_not_allowed"
    assert "endpoint_url" in response.json()["fields"]


@pytest.mark.django_db
def test_it_refuses_a_name_that_resolves_to_a_private_address(no_allow_list, api_as, dns):
    dns["intranet.test"] = "10.1.2.3"
    response = api_as("admin").post(
        "/api/v1/agents/",
        {"business": "acme", "name": "evil", "mode": "push", "endpoint_url": "https://intranet.test/hook"},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"] == "url_not_allowed"


@pytest.mark.django_db
def test_it_refuses_the_endpoint_on_update_too(no_allow_list, api_as, make_agent, dns):
    dns["agent.test"] = PUBLIC
    agent = make_agent("pusher", mode="push", endpoint_url="https://agent.test/work")
    response = api_as("admin").patch(
        f"/api/v1/agents/{agent.pk}/", {"endpoint_url": "http://127.0.0.1:8199/"}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"] == "url_not_allowed"
    agent.refresh_from_db()
    assert agent.endpoint_url == "https://agent.test/work"


@pytest.mark.django_db
def test_the_allow_list_lets_named_networks_through(settings, api_as):
    settings.MC_OUTBOUND_ALLOW = ["10.0.0.0/8"]
    response = api_as("admin").post(
        "/api/v1/agents/",
        {"business": "acme", "name": "inside", "mode": "push", "endpoint_url": "http://10.0.0.5/work"},
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_dns_rebinding_is_refused_at_send_time(
    no_allow_list, make_agent, push_server, dns, django_capture_on_commit_callbacks
):
    server = push_server()
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    dns["rebind.test"] = PUBLIC  # public when saved...
    agent = make_agent("pusher", mode="push", endpoint_url=f"http://rebind.test:{port}/work")
    dns["rebind.test"] = "127.0.0.1"  # ...loopback when sent
    with django_capture_on_commit_callbacks(execute=True):
        execution = start_execution(agent=agent, trigger="manual", input={})
    execution.refresh_from_db()
    assert server.requests == []
    assert execution.status == "failed" and execution.error_type == "endpoint_not_allowed"
    assert execution.error.startswith("Push endpoint refused: rebind.test is a loopback address")


@pytest.mark.django_db
def test_it_connects_to_the_address_it_checked(
    settings, make_agent, push_server, dns, django_capture_on_commit_callbacks
):
    # The name resolves once; the connection goes to that address with the name in Host.
    server = push_server()
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    dns["pinned.test"] = "127.0.0.1"  # allowed: the test settings allow loopback
    agent = make_agent("pusher", mode="push", endpoint_url=f"http://pinned.test:{port}/work")
    with django_capture_on_commit_callbacks(execute=True):
        execution = start_execution(agent=agent, trigger="manual", input={})
    assert Execution.objects.get(pk=execution.pk).status == "running"
    [request] = server.requests
    assert request["headers"]["Host"] == f"pinned.test:{port}"


@pytest.mark.django_db
def test_a_failed_push_does_not_echo_the_target(
    make_agent, push_server, django_capture_on_commit_callbacks, settings
):
    settings.MC_PUSH_MAX_ATTEMPTS = 1
    server = push_server(status=403)
    agent = make_agent("pusher", mode="push", endpoint_url=server.url)
    with django_capture_on_commit_callbacks(execute=True):
        execution = start_execution(agent=agent, trigger="manual", input={})
    execution.refresh_from_db()
    assert execution.status == "failed" and execution.error_type == "dispatch_failed"
    assert execution.error.endswith("HTTP 403.")


def test_it_resolves_numeric_hosts_before_checking(settings):
    settings.MC_OUTBOUND_ALLOW = []
    for url in ["http://2130706433/", "http://0x7f.1/", "http://127.1/"]:
        with pytest.raises(outbound.OutboundRefused) as refused:
            outbound.checked_address(url)
        assert refused.value.code == "url_not_allowed", url


def test_it_knows_addresses_hidden_in_ipv6():
    import ipaddress

    for text in ["2002:7f00:1::", "64:ff9b::a00:1", "::ffff:169.254.169.254"]:
        assert outbound.why_not_public(ipaddress.ip_address(text)) is not None, text
    assert outbound.why_not_public(ipaddress.ip_address("2606:4700::1111")) is None
    assert outbound.why_not_public(ipaddress.ip_address("224.0.0.1")) == "multicast"


@pytest.mark.django_db
def test_the_admin_refuses_it_too(no_allow_list, business, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", password="pw-secret-123")
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/agents/agent/add/",
        {
            "business": business.pk,
            "name": "evil",
            "mode": "push",
            "endpoint_url": "http://169.254.169.254/latest/",
            "capabilities": "[]",
            "scale": 1,
            "min_scale": 0,
            "max_scale": 1,
            "heartbeat_timeout_s": 60,
        },
    )
    assert response.status_code == 200  # the form again
    assert "link-local (cloud metadata) address" in response.content.decode()
