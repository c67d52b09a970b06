"""Production settings under daphne, over real HTTP: every page, the business switcher and the
console's POSTs answer with DEBUG=0, with and without the HTTPS redirect, with and without a proxy's
X-Forwarded-Proto (trusted only when declared). Once every page here answered 500: console code had
replaced ``request.scope`` and ``request.is_secure()`` broke.
"""

import json
import re
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import free_port
from tests.e2e.production import PASSWORD, ROOT, production_env, start_production_server

pytestmark = pytest.mark.slow  # real server processes

HSTS = "max-age=31536000; includeSubDomains"


class Visitor:
    """A signed-in person, cookies kept by hand: a browser sends a Secure cookie to an https origin
    (here, the one the proxy serves) whatever httpx's jar thinks of the http:// URL behind it."""

    def __init__(self, server, *, scheme: str, headers: dict | None = None):
        self.server = server
        self.origin = f"{scheme}://{urlsplit(server.url).netloc}"
        self.http = httpx.Client(base_url=server.url, headers=headers or {}, timeout=60)
        self.cookies: dict[str, str] = {}
        self.secure: dict[str, bool] = {}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method != "GET":
            headers.setdefault("Origin", self.origin)
            headers.setdefault("Referer", self.origin + "/control")
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.http.cookies.clear()
        for raw in response.headers.get_list("set-cookie"):
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            self.cookies[name] = value
            if value not in ("", '""'):  # a deletion (sign-out) says nothing about how it was set
                self.secure[name] = "secure" in raw.lower()
        assert response.status_code < 500, f"{method} {path}: {response.status_code}\n{response.text[:2000]}"
        return response

    def form_token(self, path: str) -> str:
        page = self.request("GET", path)
        assert page.status_code == 200, (path, page.status_code)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def sign_in(self) -> None:
        token = self.form_token("/login/")
        response = self.request(
            "POST",
            "/login/",
            data={"username": self.server.seed["owner"], "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302 and response.headers["location"] == "/control", response.text
        assert "sessionid" in self.cookies


def exercise_the_console(visitor: Visitor) -> None:
    """Every page, the switcher both ways, the workflow preview (htmx), the palette, an API action
    from a page (session + CSRF header) and signing out."""
    server = visitor.server
    visitor.sign_in()
    for path in server.page_paths():
        response = visitor.request("GET", path)
        assert response.status_code == 200, (path, response.status_code, response.headers.get("location"))
    token = visitor.form_token("/control")
    switched = visitor.request(
        "POST",
        "/console/scope",
        data={"business": server.seed["business"], "next": "/global/costs", "csrfmiddlewaretoken": token},
    )
    assert switched.status_code == 302 and switched.headers["location"] == "/global/costs"
    assert "Acme Robotics" in visitor.request("GET", "/global/costs").text
    back = visitor.request(
        "POST", "/console/scope", data={"business": "", "next": "/agents", "csrfmiddlewaretoken": token}
    )
    assert back.status_code == 302 and back.headers["location"] == "/agents"
    preview = visitor.request(
        "POST",
        "/global/workflows/preview",
        headers={"HX-Request": "true"},
        data={
            "business": server.seed["business"],
            "definition": json.dumps({"steps": [{"id": "a", "capability": "code"}]}),
            "csrfmiddlewaretoken": token,
        },
    )
    assert preview.status_code == 200 and "Valid" in preview.text
    palette = visitor.request("GET", "/console/palette?q=coder")
    assert palette.status_code == 200 and "coder-1" in palette.text
    created = visitor.request(
        "POST",
        "/api/v1/epics",
        headers={"X-CSRFToken": visitor.cookies["csrftoken"], "Accept": "application/json"},
        json={"business": server.seed["business"], "title": "Shipped under DEBUG=0"},
    )
    assert created.status_code == 201, created.text
    # Issue 17: an autoscaling policy set from the agent page's form, the section that shows it, and
    # a routed run (202 with its routing, or 409 naming each candidate's reason if none may take it).
    api_headers = {"X-CSRFToken": visitor.cookies["csrftoken"], "Accept": "application/json"}
    agent_id = server.seed["agent_id"]
    policy = visitor.request(
        "PUT",
        f"/api/v1/agents/{agent_id}/autoscale",
        headers=api_headers,
        json={"enabled": True, "min_replicas": 1, "max_replicas": 1, "target_pending_per_replica": 5},
    )
    assert policy.status_code == 200 and policy.json()["enabled"] is True, policy.text
    assert "on: 1..1 replicas" in visitor.request("GET", f"/agents/{agent_id}").text
    routed = visitor.request(
        "POST",
        "/api/v1/executions/route",
        headers=api_headers,
        json={"business": server.seed["business"], "capability": "code", "input": {}},
    )
    assert routed.status_code in (202, 409), routed.text
    if routed.status_code == 202:
        assert "Routing" in visitor.request("GET", f"/global/executions/{routed.json()['id']}").text
    else:
        assert routed.json()["error"] == "no_eligible_agent" and routed.json()["candidates"]
    signed_out = visitor.request("POST", "/logout/", data={"csrfmiddlewaretoken": token})
    assert signed_out.status_code in (200, 302)
    assert visitor.request("GET", "/control").status_code == 302  # to the sign-in page


@pytest.fixture
def production(tmp_path):
    started = []

    def start(**kwargs):
        home = tmp_path / f"server-{len(started)}"
        home.mkdir()
        server = start_production_server(home, free_port(), **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.mark.timeout(400)
def test_it_serves_the_console_over_plain_http_when_told_to(production):
    server = production(MC_HTTPS="0")
    visitor = Visitor(server, scheme="http")
    exercise_the_console(visitor)
    assert visitor.secure == {"csrftoken": False, "sessionid": False}  # kept by a browser over HTTP
    assert "Strict-Transport-Security" not in visitor.request("GET", "/login/").headers


@pytest.mark.timeout(400)
def test_it_serves_the_console_behind_a_declared_tls_proxy(production):
    proxy = {"X-Forwarded-Proto": "https"}
    server = production(MC_TLS_PROXY_HEADER="X-Forwarded-Proto", headers=proxy)
    visitor = Visitor(server, scheme="https", headers=proxy)
    exercise_the_console(visitor)
    assert visitor.secure == {"csrftoken": True, "sessionid": True}
    assert visitor.request("GET", "/login/").headers["Strict-Transport-Security"] == HSTS
    # The same server reached without the proxy's header: sent to HTTPS, never a 500.
    plain = Visitor(server, scheme="http")
    for path in ["/control", "/login/", "/global/costs", "/agents"]:
        response = plain.request("GET", path)
        assert response.status_code == 301
        assert response.headers["location"] == f"https://{urlsplit(server.url).netloc}{path}"


@pytest.mark.timeout(400)
def test_it_serves_the_console_without_the_https_redirect_and_ignores_an_undeclared_header(production):
    server = production(SECURE_SSL_REDIRECT="0")
    # No proxy declared: a client's own X-Forwarded-Proto must not pass plain HTTP off as HTTPS.
    visitor = Visitor(server, scheme="http", headers={"X-Forwarded-Proto": "https"})
    exercise_the_console(visitor)
    assert "Strict-Transport-Security" not in visitor.request("GET", "/login/").headers


@pytest.mark.timeout(400)
def test_default_production_settings_send_plain_http_to_https_and_nothing_fails(tmp_path):
    port = free_port()
    env = production_env(tmp_path, port)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "serve.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        for headers in ({}, {"X-Forwarded-Proto": "https"}):  # the header is not trusted by default
            for path in ["/control", "/login/", "/agents", "/console/scope", "/admin/"]:
                response = httpx.get(url + path, headers=headers, timeout=30)
                assert response.status_code == 301, (path, headers, response.status_code)
                assert response.headers["location"] == f"https://127.0.0.1:{port}{path}"
        assert "Traceback" not in (tmp_path / "serve.log").read_text()
    finally:
        process.terminate()
        process.wait(timeout=15)
