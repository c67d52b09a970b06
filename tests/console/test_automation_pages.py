"""/global/cron, /global/calendar and /global/workflows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from workflows.cron import create_job
from workflows.definitions import create_workflow
from workflows.models import CronRun
from workflows.runs import start_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(business, agent):
    return create_job(
        business=business, name="nightly-report", schedule="0 2 * * *", timezone="Europe/Paris", agent=agent
    )


@pytest.fixture
def stranger_job(other_business, stranger_agent):
    return create_job(business=other_business, name="their-job", schedule="*/5 * * * *", agent=stranger_agent)


@pytest.fixture
def flow(business, agent):
    definition = {
        "steps": [
            {"id": "fetch", "agent": agent.pk},
            {"id": "summarise", "capability": "code", "depends_on": ["fetch"]},
            {"id": "notify", "capability": "code", "depends_on": ["fetch"]},
        ]
    }
    return create_workflow(business=business, name="digest", definition=definition)


def test_cron_lists_jobs_with_their_reading_and_next_run(viewer_page, job, stranger_job):
    body = viewer_page.get("/global/cron").content.decode()
    assert "nightly-report" in body
    assert "At 02:00" in body
    assert "their-job" not in body


def test_cron_offers_creation_to_admins_only(page_as, job):
    assert 'data-api="/api/v1/cron-jobs/"' in page_as("admin").get("/global/cron").content.decode()
    operator = page_as("operator").get("/global/cron").content.decode()
    assert 'data-api="/api/v1/cron-jobs/"' not in operator
    assert f"/api/v1/cron-jobs/{job.pk}/run-now" in operator


def test_cron_preview_reads_an_expression_and_lists_the_next_runs(viewer_page):
    body = viewer_page.get(
        "/global/cron/preview?schedule=30+9+*+*+1-5&timezone=Europe/Paris", HTTP_HX_REQUEST="true"
    )
    text = body.content.decode()
    assert "At 09:30 AM, Monday through Friday" in text
    assert text.count("<time") == 5


def test_cron_preview_names_the_field_at_fault(viewer_page):
    text = viewer_page.get("/global/cron/preview?schedule=61+*+*+*+*&timezone=UTC").content.decode()
    assert "schedule:" in text
    text = viewer_page.get("/global/cron/preview?schedule=*+*+*+*+*&timezone=Mars/Base").content.decode()
    assert "timezone:" in text


def test_cron_history_loads_a_jobs_runs(viewer_page, job):
    CronRun.objects.create(cron_job=job, scheduled_for=timezone.now(), status="failed", reason="agent_error")
    text = viewer_page.get(f"/global/cron?job={job.pk}", HTTP_HX_REQUEST="true").content.decode()
    assert "agent_error" in text
    assert "<html" not in text


def test_cron_page_costs_a_fixed_number_of_queries(
    viewer_page, business, agent, django_assert_max_num_queries
):
    for i in range(15):
        create_job(business=business, name=f"job-{i}", schedule=f"{i} * * * *", agent=agent)
    with django_assert_max_num_queries(10):
        assert viewer_page.get("/global/cron").status_code == 200


def test_calendar_shows_past_and_scheduled_runs(viewer_page, job, stranger_job):
    CronRun.objects.create(
        cron_job=job, scheduled_for=timezone.now() - timedelta(minutes=5), status="success"
    )
    body = viewer_page.get("/global/calendar").content.decode()
    assert "nightly-report" in body
    assert 'class="badge s-success"' in body
    assert 'class="badge s-scheduled"' in body
    assert "their-job" not in body


def test_calendar_moves_by_month_and_has_an_empty_state(viewer_page):
    body = viewer_page.get("/global/calendar?month=2031-02").content.decode()
    assert "February 2031" in body
    assert "Nothing ran or is scheduled" in body


def test_workflows_draws_the_definition(viewer_page, flow):
    body = viewer_page.get("/global/workflows").content.decode()
    assert "<svg" in body
    assert body.count('class="edge"') == 2
    assert "fetch before summarise" in body


def test_workflows_shows_a_runs_steps(page_as, flow):
    run = start_run(workflow=flow, input={})
    body = page_as("operator").get(f"/global/workflows?workflow={flow.pk}&run={run.pk}").content.decode()
    assert f"Run #{run.pk}" in body
    assert "<code>summarise</code>" in body


def test_workflows_answers_404_for_a_strangers_run(viewer_page, flow, other_business, stranger_agent):
    theirs = create_workflow(
        business=other_business, name="x", definition={"steps": [{"id": "a", "agent": stranger_agent.pk}]}
    )
    run = start_run(workflow=theirs, input={})
    assert viewer_page.get(f"/global/workflows?workflow={flow.pk}&run={run.pk}").status_code == 404


def test_workflow_preview_names_the_faulty_step(page_as, business):
    client = page_as("admin")
    bad = '{"steps": [{"id": "a", "capability": "x", "depends_on": ["b"]}]}'
    text = client.post("/global/workflows/preview", {"business": "acme", "definition": bad}).content.decode()
    assert "depends on unknown step" in text
    good = '{"steps": [{"id": "a", "capability": "x"}, {"id": "b", "capability": "y", "depends_on": ["a"]}]}'
    text = client.post("/global/workflows/preview", {"business": "acme", "definition": good}).content.decode()
    assert "Valid: 2 steps" in text


def test_workflow_preview_refuses_a_strangers_business(viewer_page, other_business):
    response = viewer_page.post("/global/workflows/preview", {"business": "globex", "definition": "{}"})
    assert response.status_code == 404


def test_workflows_page_costs_a_fixed_number_of_queries(page_as, flow, django_assert_max_num_queries):
    for _ in range(5):
        start_run(workflow=flow, input={})
    client = page_as("operator")
    with django_assert_max_num_queries(14):
        assert client.get(f"/global/workflows?workflow={flow.pk}").status_code == 200


def test_palette_finds_cron_jobs_and_offers_to_trigger_workflows(operator_page, job, flow):
    found = [r["label"] for r in operator_page.get("/console/palette?q=digest").json()["results"]]
    assert "digest" in found
    assert "Trigger workflow digest" in found
    found = [r["label"] for r in operator_page.get("/console/palette?q=nightly").json()["results"]]
    assert "nightly-report" in found
    assert "Run cron job nightly-report now" in found
