"""deploy/: the Prometheus alert rules and scrape config pass promtool, the Grafana dashboard asks
only for metrics /metrics serves."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from agents.services import create_agent

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if settings.REQUIRE_SERVICES:
            pytest.fail("promtool is required (REQUIRE_SERVICES=1): apt-get install prometheus")
        pytest.skip("needs promtool (Debian's prometheus package)")
    return found


def run(*args: str, cwd: Path) -> None:
    out = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_alert_rules_pass_promtool_check_rules():
    run("check", "rules", "alerts.yml", cwd=DEPLOY / "prometheus")


def test_the_alert_rules_fire_on_the_series_they_are_meant_for():
    run("test", "rules", "alerts_test.yml", cwd=DEPLOY / "prometheus")


def test_the_scrape_config_passes_promtool_check_config(tmp_path):
    for name in ("alerts.yml", "prometheus.yml"):
        shutil.copy(DEPLOY / "prometheus" / name, tmp_path / name)
    token = tmp_path / "token"
    token.write_text("mcs_" + "x" * 40)
    config = tmp_path / "prometheus.yml"
    config.write_text(config.read_text().replace("/etc/prometheus/mission-control.token", str(token)))
    run("check", "config", "prometheus.yml", cwd=tmp_path)


@pytest.mark.django_db
def test_the_dashboard_asks_only_for_metrics_that_exist(business, django_user_model):
    from tests.conftest import client_for

    create_agent(business=business, name="coder")
    served = client_for(django_user_model.objects.create_superuser("root", "r@example.com", "pw")).get(
        "/metrics"
    )
    names = {
        n.removesuffix("_total") for n in re.findall(r"^# TYPE (\w+) ", served.content.decode(), flags=re.M)
    }
    dashboard = json.loads((DEPLOY / "grafana" / "mission-control.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {m for e in exprs for m in re.findall(r"\b(mc_\w+?)(?:_bucket|_total)?\b", e)}
    alerts = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    used |= {m for m in re.findall(r"\b(mc_\w+?)(?:_bucket|_total)?\b", alerts)}
    assert used and used <= names, f"not served: {sorted(used - names)}"
