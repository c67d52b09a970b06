"""The operator's main flows, end to end in a real browser against a real server."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shoot, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_it_replays_a_failed_execution(page, server):
    failed = server.seed["failed_execution"]
    page.goto("/global/executions?status=failed")
    row = page.locator("tr", has=page.get_by_role("link", name=f"#{failed}", exact=True))
    expect(row).to_contain_text("Upstream API returned 503")
    row.get_by_role("button", name=f"Replay execution {failed}").click()
    expect(page).to_have_url(re.compile(r"/global/executions/\d+$"))
    expect(page.locator("#execution-summary")).to_contain_text(f"Replay of #{failed}")
    replay_id = int(page.url.rsplit("/", 1)[1])
    assert replay_id != failed
    body = server.api().get(f"/api/v1/executions/{replay_id}").json()
    assert body["replay_of"] == failed
    assert body["status"] == "pending"
    shoot(page, "execution-replayed")


def test_it_shows_an_execution_with_expandable_logs(page, server):
    page.goto("/global/executions?q=search_kb")
    page.locator("#executions-table tbody a").first.click()
    tool_call = page.locator(".log-entry", has_text="search_kb")
    tool_call.locator("summary").click()
    expect(tool_call).to_contain_text('"query": "refund"')
    shoot(page, "execution")


def test_it_engages_and_releases_the_emergency_stop(page, server):
    page.goto("/control")
    wait_live(page)
    page.get_by_text("Emergency stop", exact=True).click()
    page.get_by_label("Reason (required, recorded in the audit log)").fill("Browser test: runaway spend")
    page.get_by_role("button", name="Engage emergency stop").click()
    banner = page.get_by_role("alert").filter(has_text="Emergency stop engaged")
    expect(banner).to_contain_text("Browser test: runaway spend")
    status = server.api().get("/api/v1/emergency-stop?business=acme").json()
    assert status["engaged"] is True
    refused = server.api().post(f"/api/v1/agents/{server.seed['agent_id']}/run", json={"input": {}})
    assert refused.status_code == 423
    shoot(page, "control-emergency-stop")

    banner.get_by_label("Reason for releasing").fill("Spend understood")
    banner.get_by_role("button", name="Release the stop").click()
    expect(page.get_by_role("alert").filter(has_text="Emergency stop engaged")).to_have_count(0)
    assert server.api().get("/api/v1/emergency-stop?business=acme").json()["engaged"] is False


def test_it_creates_a_cron_job_with_a_reading_of_its_schedule(page, server):
    page.goto("/global/cron?new=1")
    form = page.locator("#cron-create")
    form.get_by_label("Name").fill("browser-hourly")
    form.get_by_label("Schedule (5-field cron expression)").fill("15 * * * *")
    expect(page.locator("#cron-preview")).to_contain_text("At 15 minutes past the hour")
    expect(page.locator("#cron-preview time")).to_have_count(5)
    form.get_by_label("Run agent").select_option(value=str(server.seed["agent_id"]))
    shoot(page, "cron-create")
    form.get_by_role("button", name="Create cron job").click()
    expect(page.locator("#cron-table")).to_contain_text("browser-hourly")
    jobs = server.api().get("/api/v1/cron-jobs/?business=acme").json()["results"]
    created = next(j for j in jobs if j["name"] == "browser-hourly")
    assert created["schedule"] == "15 * * * *"
    assert created["next_run_at"]


def test_a_bad_cron_expression_is_named_before_and_after_submitting(page, server):
    page.goto("/global/cron?new=1")
    form = page.locator("#cron-create")
    form.get_by_label("Name").fill("broken")
    form.get_by_label("Schedule (5-field cron expression)").fill("61 * * * *")
    expect(page.locator("#cron-preview")).to_contain_text("schedule:")
    form.get_by_label("Run agent").select_option(value=str(server.seed["agent_id"]))
    form.get_by_role("button", name="Create cron job").click()
    expect(form.locator('.field-error[data-for="schedule"]')).to_be_visible()


def test_it_moves_a_task_by_dragging_it(page, server):
    task = server.seed["task_id"]
    page.goto("/acme/board")
    card = page.locator(f"#task-{task}")
    page.locator("#board .column[data-status='review']").wait_for()
    card.drag_to(page.locator("#board .column[data-status='review']"))
    expect(page.locator("#toasts")).to_contain_text(f"Task #{task} moved to review")
    expect(page.locator(f"#board .column[data-status='review'] #task-{task}")).to_be_visible()
    assert server.api().get(f"/api/v1/tasks/{task}").json()["status"] == "review"
    shoot(page, "board-after-drag")


def test_it_moves_a_task_with_the_keyboard(page, server):
    task = server.seed["task_id"]
    page.goto("/acme/board")
    page.get_by_label(f"Move task {task} to").select_option("in_progress")
    expect(page.locator(f"#board .column[data-status='in_progress'] #task-{task}")).to_be_visible()
    assert server.api().get(f"/api/v1/tasks/{task}").json()["status"] == "in_progress"


def test_it_runs_a_workflow_and_shows_the_run(page, server):
    page.goto("/global/workflows")
    expect(page.locator("svg desc").first).to_contain_text("fetch before summarise")
    page.get_by_role("button", name="Run weekly-report").click()
    expect(page).to_have_url(re.compile(r"run=\d+"))
    expect(page.locator("#run-panel")).to_contain_text("Run #")
    shoot(page, "workflow-run")


def test_it_writes_to_the_brain_and_finds_it(page, server):
    page.goto("/global/brain")
    page.get_by_text("New document").click()
    page.get_by_label("Key").fill("faq/shipping")
    page.get_by_label("Title").fill("Shipping FAQ")
    page.get_by_label("Body").fill("Parcels leave within two working days.")
    page.get_by_role("button", name="Save document").click()
    expect(page.locator("#doc-title")).to_contain_text("Shipping FAQ")
    page.goto("/global/brain?q=parcels")
    expect(page.locator("#docs-title + ul li")).to_have_count(1)


def test_the_workflow_builder_checks_and_draws_a_definition_before_saving(page):
    page.goto("/global/workflows")
    page.get_by_text("New workflow").click()
    page.get_by_role("button", name="Check and draw").click()
    expect(page.locator("#wf-preview")).to_contain_text("Valid: 3 steps")
    expect(page.locator("#wf-preview svg desc")).to_contain_text("classify before escalate")
    page.locator("#w-def").fill('{"steps": [{"id": "a", "capability": "x", "depends_on": ["zz"]}]}')
    page.get_by_role("button", name="Check and draw").click()
    expect(page.locator("#wf-preview")).to_contain_text("depends on unknown step 'zz'")
