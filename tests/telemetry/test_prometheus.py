"""A real Prometheus scrapes the live server with the scrape token, and answers a query about it."""

import secrets
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.conf import settings

from tests.e2e.conftest import _start, _stop
from tests.telemetry.conftest import agent_key, port_in_range
from tests.telemetry.otlp_payloads import as_protobuf, chat, export, span, span_id, trace_id

pytestmark = pytest.mark.slow  # real server processes (the app and prometheus)
SCRAPE_TOKEN = "mcs_" + "p" * 40


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        if settings.REQUIRE_SERVICES:
            pytest.fail("prometheus is required (REQUIRE_SERVICES=1): apt-get install prometheus")
        pytest.skip("needs prometheus (Debian's prometheus package)")
    return found


@pytest.fixture
def scraped(tmp_path, prometheus_binary):
    """The app, and a Prometheus of our own (own port, config and storage) scraping it every second."""
    # Production settings (DEBUG=0, plain HTTP): /metrics and the OTLP endpoint as deployed.
    production = {
        "DEBUG": "0",
        "MC_HTTPS": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MC_METRICS_TOKEN": SCRAPE_TOKEN,
    }
    (tmp_path / "app").mkdir()
    app = _start(tmp_path / "app", production, port=port_in_range())
    port = port_in_range(range(8148, 8150))
    (tmp_path / "token").write_text(SCRAPE_TOKEN)
    (tmp_path / "prometheus.yml").write_text(
        f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: mission-control
    authorization: {{type: Bearer, credentials_file: {tmp_path / "token"}}}
    static_configs: [{{targets: ["{app.url.removeprefix("http://")}"]}}]
"""
    )
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        _stop(app)


def query(prometheus: str, promql: str) -> list:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_the_fleet_and_answers_a_query(scraped):
    app, prometheus = scraped
    agent_id, key = agent_key(app)
    business = app.api().get(f"/api/v1/agents/{agent_id}/").json()["business"]
    now = datetime.now(UTC)
    for n in range(3):
        report = {
            "status": "success",
            "model": "gpt-4o",
            "model_provider": "openai",
            "input_tokens": 100,
            "output_tokens": 10 + n,
            "started_at": (now - timedelta(seconds=2)).isoformat(),
            "finished_at": now.isoformat(),
        }
        response = httpx.post(
            f"{app.url}/api/v1/executions/", json=report, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 201, response.text

    # And one agent run over OTLP/HTTP (protobuf), as an OpenTelemetry exporter sends it.
    trace, root = trace_id(), span_id()
    body = as_protobuf(export(span(trace, "invoke_agent", sid=root), chat(trace, root, tokens=(100, 13))))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    assert httpx.post(f"{app.url}/api/v1/otel/v1/traces", content=body, headers=headers).status_code == 200

    promql = f'sum(mc_executions_total{{business="{business}",status="success"}})'
    deadline = time.monotonic() + 60
    result = []
    while time.monotonic() < deadline:
        up = query(prometheus, 'up{job="mission-control"}')
        if up and up[0]["value"][1] == "1":
            result = query(prometheus, promql)
            if result and float(result[0]["value"][1]) == 4:
                break
        time.sleep(0.5)
    assert result and float(result[0]["value"][1]) == 4, (up, result)
    tokens = query(prometheus, f'sum(mc_execution_tokens_total{{business="{business}",type="output"}})')
    assert float(tokens[0]["value"][1]) == 33 + 13
