"""GET /metrics: the fleet in the Prometheus text format, cheap at any size."""

import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from agents.services import create_agent
from executions.services import report_execution
from governance.services import create_budget
from governance.stops import engage_emergency_stop
from observability.models import LifetimeRollup
from observability.rebuild import recount_lifetime
from tests.conftest import client_for
from workflows.models import CronJob, CronRun

URL = "/metrics"
SCRAPE_TOKEN = "mcs_" + "s" * 40


def samples(response) -> dict[tuple, float]:
    """``{(name, frozenset(labels)): value}`` as Prometheus would read them."""
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def done(agent, *, status="success", model="gpt-4o", tokens=(1000, 100), seconds=3):
    now = timezone.now()
    data = {
        "status": status,
        "model": model,
        "model_provider": "openai",
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "started_at": now - timedelta(seconds=seconds),
        "finished_at": now,
    }
    execution, _ = report_execution(agent=agent, data=data, body_hash="", actor=None)
    return execution


@pytest.fixture
def fleet(business, django_capture_on_commit_callbacks):
    coder = create_agent(business=business, name="coder")
    create_agent(business=business, name="idle-one")
    with django_capture_on_commit_callbacks(execute=True):  # the roll-ups run after commit
        done(coder)
        done(coder, seconds=40)
        done(coder, status="failed", tokens=(10, 0))
    return coder


@pytest.fixture
def superuser_api(django_user_model):
    return client_for(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))


@pytest.mark.django_db
def test_it_counts_executions_tokens_and_cost_from_the_rollups(superuser_api, fleet, business):
    got = samples(superuser_api.get(URL))
    ok = {"business": business.slug, "agent": "coder", "model": "gpt-4o", "status": "success"}
    assert got[("mc_executions_total", frozenset(ok.items()))] == 2
    assert got[("mc_execution_tokens_total", frozenset({**ok, "type": "input"}.items()))] == 2000
    assert got[("mc_executions_total", frozenset({**ok, "status": "failed"}.items()))] == 1
    cost = got[("mc_execution_cost_usd_total", frozenset(ok.items()))]
    assert cost == pytest.approx(float(sum(e.cost_usd for e in fleet.executions.filter(status="success"))))


@pytest.mark.django_db
def test_it_serves_a_duration_histogram_per_agent(superuser_api, fleet, business):
    got = samples(superuser_api.get(URL))
    labels = {"business": business.slug, "agent": "coder"}
    assert got[("mc_execution_duration_seconds_bucket", frozenset({**labels, "le": "5.0"}.items()))] == 2
    assert got[("mc_execution_duration_seconds_bucket", frozenset({**labels, "le": "60.0"}.items()))] == 3
    assert got[("mc_execution_duration_seconds_count", frozenset(labels.items()))] == 3
    assert got[("mc_execution_duration_seconds_sum", frozenset(labels.items()))] == pytest.approx(46)


@pytest.mark.django_db
def test_it_serves_agents_queues_and_running_work(superuser_api, fleet, business):
    done(fleet, status="running")
    got = samples(superuser_api.get(URL))
    assert (
        got[("mc_executions_running", frozenset({"business": business.slug, "agent": "coder"}.items()))] == 1
    )
    assert got[("mc_agents", frozenset({"business": business.slug, "status": "offline"}.items()))] == 2
    state = {"business": business.slug, "desired_state": "running", "reported_status": "idle"}
    assert got[("mc_agents_by_state", frozenset(state.items()))] == 2


@pytest.mark.django_db
def test_it_serves_budgets_cron_jobs_and_the_emergency_stop(
    superuser_api, fleet, business, django_user_model
):
    boss = django_user_model.objects.get(username="root")
    budget = create_budget(business=business, actor=boss, period="month", limit_usd=Decimal("10"))
    job = CronJob.objects.create(business=business, name="nightly", schedule="0 3 * * *", agent=fleet)
    job.consecutive_failures = 2
    job.save()
    finished = timezone.now() - timedelta(hours=5)
    CronRun.objects.create(cron_job=job, scheduled_for=finished, status="success", finished_at=finished)
    engage_emergency_stop(business=business, reason="drill", actor=boss)
    got = samples(superuser_api.get(URL))
    labels = {
        "business": business.slug,
        "budget": str(budget.pk),
        "agent": "",
        "model": "",
        "period": "month",
    }
    assert got[("mc_budget_used_ratio", frozenset(labels.items()))] == 0
    cron = frozenset({"business": business.slug, "cron_job": "nightly"}.items())
    assert got[("mc_cron_consecutive_failures", cron)] == 2
    assert got[("mc_cron_last_success_timestamp_seconds", cron)] == pytest.approx(finished.timestamp())
    assert got[("mc_emergency_stop_engaged", frozenset({"business": business.slug}.items()))] == 1
    assert got[("mc_emergency_stop_global", frozenset())] == 0


@pytest.mark.django_db
def test_it_serves_this_processs_request_metrics(superuser_api, fleet):
    superuser_api.get("/api/v1/health")
    got = samples(superuser_api.get(URL))
    health = {"method": "GET", "route": "health", "status": "200"}
    assert got[("mc_http_requests_total", frozenset(health.items()))] >= 1
    assert (
        any(name == "process_cpu_seconds_total" for name, _ in got)
        or "linux" not in __import__("sys").platform
    )


@pytest.mark.django_db
def test_it_costs_the_same_few_queries_whatever_the_fleet(
    superuser_api, business, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # Warm up: the first request also loads the user's token.
    superuser_api.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(20):
            agent = create_agent(business=business, name=f"a-{n}")
            done(agent, model=f"gpt-4o{'-mini' if n % 2 else ''}")
            done(agent, status="running")
    for n in range(5):
        create_budget(
            business=business,
            actor=None,
            period="day",
            limit_usd=Decimal(1),
            agent_id=agent.pk,
            model=f"m{n}",
        )
        CronJob.objects.create(business=business, name=f"job-{n}", schedule="* * * * *", agent=agent)
    # The token, businesses, agents, agents by status, live work, lifetime rollups, budgets and their
    # windows (with the two burn-rate reads every budget projection makes), cron jobs, stops: 12.
    with django_assert_max_num_queries(12):
        response = superuser_api.get(URL)
    assert response.status_code == 200


@pytest.mark.django_db
def test_it_reads_the_scrape_token(fleet, settings):
    settings.MC_METRICS_TOKEN = SCRAPE_TOKEN
    scraper = APIClient()
    scraper.credentials(HTTP_AUTHORIZATION=f"Bearer {SCRAPE_TOKEN}")
    assert "mc_executions_total" in scraper.get(URL).content.decode()
    scraper.credentials(HTTP_AUTHORIZATION=f"Bearer mcs_{'x' * 40}")
    assert scraper.get(URL).status_code == 401


@pytest.mark.django_db
def test_it_refuses_agents_and_strangers(agent_api, client):
    assert client.get(URL).status_code == 401
    assert agent_api.get(URL).status_code == 403


@pytest.mark.django_db
def test_it_shows_a_member_only_their_businesses(fleet, business, other_business, viewer_api):
    create_agent(business=other_business, name="theirs")
    text = viewer_api.get(URL).content.decode()
    assert f'business="{business.slug}"' in text
    assert f'business="{other_business.slug}"' not in text


@pytest.mark.django_db
def test_it_rebuilds_the_lifetime_totals_to_what_the_roll_ups_wrote(fleet):
    before = list(LifetimeRollup.objects.order_by("agent_id", "model", "status").values())
    recount_lifetime()
    after = list(LifetimeRollup.objects.order_by("agent_id", "model", "status").values())
    strip = lambda rows: [{k: v for k, v in row.items() if k != "id"} for row in rows]  # noqa: E731
    assert strip(after) == strip(before) and before


@pytest.mark.django_db
def test_its_output_passes_promtool_check_metrics(superuser_api, fleet):
    promtool = shutil.which("promtool")
    if promtool is None:
        if settings.REQUIRE_SERVICES:
            pytest.fail("promtool is required (REQUIRE_SERVICES=1): apt-get install prometheus")
        pytest.skip("needs promtool (Debian's prometheus package)")
    text = superuser_api.get(URL).content
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
