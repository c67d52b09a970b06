from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import agent_client
from tests.executions.conftest import finished, report


def ids(client, query=""):
    response = client.get(f"/api/v1/executions/?{query}")
    assert response.status_code == 200, response.json()
    return sorted(e["id"] for e in response.json()["results"])


@pytest.fixture
def ledger(agent_api, make_agent):
    """A few executions that differ in every filterable way."""
    other = agent_client(make_agent(name="writer"))
    rows = {
        "ok": report(agent_api, **finished(input={"topic": "invoices"}, output={"summary": "all paid"})),
        "failed": report(
            agent_api,
            **finished(
                status="failed",
                error="Upstream gateway exploded",
                model="claude-3-5-sonnet-latest",
                model_provider="anthropic",
            ),
        ),
        "writer": report(other, **finished(trigger="webhook", cost_usd="2.5", duration_ms=90_000)),
        "running": report(agent_api, input={"topic": "penguins"}),
    }
    agent_api.post(
        f"/api/v1/executions/{rows['running'].json()['id']}/logs",
        [{"message": "calling the walrus service"}],
        format="json",
    )
    return {name: response.json()["id"] for name, response in rows.items()}


@pytest.mark.django_db
def test_it_filters_by_status_trigger_agent_model_and_provider(viewer_api, ledger, agent):
    assert ids(viewer_api, "status=failed") == [ledger["failed"]]
    assert ids(viewer_api, "status=success,running") == sorted(
        [ledger["ok"], ledger["writer"], ledger["running"]]
    )
    assert ids(viewer_api, "trigger=webhook") == [ledger["writer"]]
    assert ids(viewer_api, f"agent={agent.pk}") == sorted([ledger["ok"], ledger["failed"], ledger["running"]])
    assert ids(viewer_api, "provider=anthropic") == [ledger["failed"]]
    assert ids(viewer_api, "model=gpt-4o") == sorted([ledger["ok"], ledger["writer"]])


@pytest.mark.django_db
def test_it_filters_by_cost_and_duration_ranges(viewer_api, ledger):
    assert ids(viewer_api, "min_cost=1") == [ledger["writer"]]
    assert ids(viewer_api, "max_cost=0.01&status=success") == [ledger["ok"]]
    assert ids(viewer_api, "min_duration_ms=60000") == [ledger["writer"]]
    assert ids(viewer_api, "max_duration_ms=5000") == sorted([ledger["ok"], ledger["failed"]])


@pytest.mark.django_db
def test_it_searches_error_input_output_and_log_messages(viewer_api, ledger):
    assert ids(viewer_api, "q=gateway") == [ledger["failed"]]
    assert ids(viewer_api, "q=invoices") == [ledger["ok"]]
    assert ids(viewer_api, "q=paid") == [ledger["ok"]]
    assert ids(viewer_api, "q=walrus") == [ledger["running"]]
    assert ids(viewer_api, "q=nothing-like-this") == []


@pytest.mark.django_db
def test_it_filters_by_time_range(viewer_api, agent_api):
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=3)):
        old = report(agent_api, input={}).json()["id"]
    new = report(agent_api, input={}).json()["id"]
    since = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(viewer_api, f"since={since}") == [new]
    assert ids(viewer_api, f"until={since}") == [old]


@pytest.mark.django_db
def test_it_filters_by_cron_job_and_workflow_run(viewer_api, agent):
    from executions.services import start_execution

    cron = start_execution(agent=agent, trigger="cron", cron_job_id=41)
    flow = start_execution(agent=agent, trigger="workflow", workflow_run_id=7, workflow_step="classify")
    assert ids(viewer_api, "cron_job=41") == [cron.pk]
    assert ids(viewer_api, "workflow_run=7") == [flow.pk]


@pytest.mark.django_db
def test_bad_filters_are_400_naming_the_field(viewer_api):
    for query, field in (
        ("status=exploded", "status"),
        ("since=yesterday", "since"),
        ("min_cost=lots", "min_cost"),
    ):
        response = viewer_api.get(f"/api/v1/executions/?{query}")
        assert response.status_code == 400
        assert field in response.json()["fields"]


@pytest.mark.django_db
def test_the_list_is_paginated_by_cursor(viewer_api, agent_api):
    for _ in range(3):
        report(agent_api, input={})
    page = viewer_api.get("/api/v1/executions/?limit=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = viewer_api.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None


@pytest.mark.postgres
@pytest.mark.django_db
def test_full_text_search_is_served_by_the_gin_indexes(ledger):
    from django.db import connection

    from executions.search import COMMON_MATCHES, PROBE

    # The probe finds the matches (a rare term's page is then read by primary key).
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {PROBE}", ["gateway", COMMON_MATCHES, "gateway", COMMON_MATCHES])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Each partition's copy of the index (execution_fulltext on the parent).
    assert "fulltext" in plan and "to_tsvector_idx" in plan, plan


@pytest.mark.django_db
def test_it_filters_by_the_corrected_cost_where_a_correction_exists(viewer_api, ledger):
    from decimal import Decimal

    from executions.models import CostCorrection

    CostCorrection.objects.create(execution_id=ledger["ok"], cost_usd=Decimal("3"), cost_source="computed")
    CostCorrection.objects.create(
        execution_id=ledger["writer"], cost_usd=Decimal("9"), cost_source="computed"
    )
    CostCorrection.objects.create(
        execution_id=ledger["writer"], cost_usd=Decimal("0.5"), cost_source="computed"
    )

    # ok: 0 -> 3 (counts as 3); writer: 2.5 -> 9 -> 0.5 (the latest counts, 0.5).
    assert ids(viewer_api, "min_cost=1") == [ledger["ok"]]
    assert ids(viewer_api, "max_cost=1&min_cost=0.4") == [ledger["writer"]]


@pytest.mark.django_db
def test_it_finds_nothing_for_a_business_that_does_not_exist_for_a_superuser(ledger, django_user_model):
    from tests.conftest import client_for

    admin = client_for(django_user_model.objects.create_superuser("root-1", password="x"))
    assert ids(admin, "business=nope") == []
    assert len(ids(admin)) == 4


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("walkable", "common_matches"),
    [(1, 10**9), (10**9, 1), (10**9, 10**9)],
    ids=["common in the newest rows", "common in the probe", "rare"],
)
def test_full_text_finds_the_same_rows_for_common_and_rare_terms(
    viewer_api, ledger, monkeypatch, walkable, common_matches
):
    from executions import search

    # A common term is tested row by row, newest first; a rare one is collected from the GIN indexes.
    monkeypatch.setattr(search, "WALKABLE", walkable)
    monkeypatch.setattr(search, "COMMON_MATCHES", common_matches)
    assert ids(viewer_api, "q=gateway") == [ledger["failed"]]
    assert ids(viewer_api, "q=walrus") == [ledger["running"]]
    assert ids(viewer_api, "q=walrus&status=success") == []
    assert ids(viewer_api, "q=nothing-like-this") == []
