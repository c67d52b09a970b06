"""Every dashboard window equals a direct sum over the ledger: across hour and day boundaries of a
moving clock, for late arrivals (long runs, last week's batch), and after the catch-up sweep."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from executions.models import Execution
from observability import reconcile, rollups
from observability.dashboards import money
from tests.conftest import agent_client

pytestmark = pytest.mark.django_db


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def report(django_capture_on_commit_callbacks):
    """``report(client, **fields)``: an agent's report through the API, its on-commit work done."""

    def send(client, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return _report(client, **fields)

    return send


def _report(client, **fields):
    body = {
        "status": "success",
        "model": "gpt-4o",
        "model_provider": "openai",
        "input_tokens": 1000,
        "output_tokens": 100,
        **{k: iso(v) if isinstance(v, datetime) else v for k, v in fields.items()},
    }
    response = client.post("/api/v1/executions/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def assert_dashboards_equal_ledger(api, business, windows=("1h", "24h", "7d", "30d")):
    for window in windows:
        summary = api.get(f"/api/v1/dashboard/summary?business={business.slug}&window={window}").json()
        since = datetime.fromisoformat(summary["since"].replace("Z", "+00:00"))
        ledger = reconcile.ledger_totals(business_ids=[business.pk], since=since)
        assert (summary["executions"]["finished"], summary["tokens"]["total"], summary["cost_usd"]) == (
            ledger["executions"],
            ledger["total_tokens"],
            money(ledger["cost_usd"]),
        ), window
        agents = api.get(f"/api/v1/dashboard/agents?business={business.slug}&window={window}").json()
        assert sum(row["executions"] for row in agents["results"]) == ledger["executions"], window
        assert sum(Decimal(row["cost_usd"]) for row in agents["results"]) == ledger["cost_usd"], window
    costs = api.get(f"/api/v1/dashboard/costs?business={business.slug}&bucket=hour&window=24h").json()
    since = datetime.fromisoformat(costs["since"].replace("Z", "+00:00"))
    assert (
        Decimal(costs["total_usd"])
        == reconcile.ledger_totals(business_ids=[business.pk], since=since)["cost_usd"]
    )
    assert reconcile.differences() == []


def test_it_counts_the_current_partial_hour_across_hour_and_day_boundaries(
    viewer_api, agent, business, report
):
    client = agent_client(agent)
    start = datetime(2025, 3, 10, 23, 40, tzinfo=UTC)
    for minutes in (0, 19, 19.99, 20, 21, 79, 80, 24 * 60 + 19.99, 24 * 60 + 20.01):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            # Finished "now" by the server's clock, and one that names its own end a second ago.
            report(client, cost_usd="0.00100000")
            report(client, finished_at=start + timedelta(minutes=minutes, seconds=-1), cost_usd="0.00000001")
            assert_dashboards_equal_ledger(viewer_api, business)


def test_it_counts_late_arrivals_in_the_hour_they_finished(
    viewer_api, agent, business, report, django_capture_on_commit_callbacks
):
    client = agent_client(agent)
    now = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        # A run that started last week and ends now counts now; last week's batch counts last week.
        report(client, started_at=now - timedelta(days=6, hours=3), cost_usd="2.5")
        items = [
            {
                "status": "failed" if i % 3 else "success",
                "model": "gpt-4o",
                "input_tokens": 10 * i,
                "cost_usd": f"0.0{i}",
                "started_at": iso(now - timedelta(days=i, minutes=5)),
                "finished_at": iso(now - timedelta(days=i)),
            }
            for i in range(1, 10)
        ]
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/executions/batch", {"executions": items}, format="json")
        assert [r["status"] for r in response.json()["results"]] == [201] * 9
        assert_dashboards_equal_ledger(viewer_api, business)


def test_it_counts_what_the_receiver_missed_once_the_sweep_has_run(
    viewer_api, agent, business, report, monkeypatch
):
    client = agent_client(agent)
    now = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        monkeypatch.setattr(rollups, "roll_up_rows", _broken)
        for days in (0, 2, 40):
            report(client, finished_at=now - timedelta(days=days), cost_usd="1")
        monkeypatch.undo()
        assert reconcile.differences() != []

        rollups.catch_up()

        assert_dashboards_equal_ledger(viewer_api, business)
        assert Execution.objects.count() == 3


def _broken(*args, **kwargs):
    raise RuntimeError("the rollup database is away")


def test_check_rollups_names_an_hour_that_differs(agent, report):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from observability.models import HourlyRollup

    report(agent_client(agent), cost_usd="1")
    out = StringIO()
    call_command("check_rollups", stdout=out)
    assert "equal the ledger" in out.getvalue()
    HourlyRollup.objects.update(executions=5)

    with pytest.raises(CommandError, match="1 hour"):
        call_command("check_rollups", stdout=out)
    assert "hourly business" in out.getvalue()


def test_it_counts_the_corrected_cost_as_the_explorer_and_export_do(
    viewer_api, agent, business, report, django_capture_on_commit_callbacks
):
    from executions.management.commands.recompute_unknown_costs import correct
    from executions.models import Execution

    client = agent_client(agent)
    now = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        first = report(client, trigger="cron", cost_usd="0.5")
        second = report(client, finished_at=now - timedelta(days=3), cost_usd="0")
        with django_capture_on_commit_callbacks(execute=True):
            correct(Execution.objects.get(pk=first["id"]), Decimal("2"), "v2")
            correct(Execution.objects.get(pk=first["id"]), Decimal("0.25"), "v3")  # the latest counts
            correct(Execution.objects.get(pk=second["id"]), Decimal("1.5"), "v2")

        assert_dashboards_equal_ledger(viewer_api, business)
        export = viewer_api.get(f"/api/v1/executions/export?format=jsonl&business={business.slug}")
        lines = b"".join(export.streaming_content).decode().splitlines()
        assert sum(Decimal(json.loads(line)["cost_usd"]) for line in lines) == Decimal("1.75")
        week = viewer_api.get(f"/api/v1/dashboard/summary?business={business.slug}&window=7d").json()
        assert week["cost_usd"] == "1.75000000"


def test_a_rebuild_keeps_the_corrections(
    viewer_api, agent, business, report, django_capture_on_commit_callbacks
):
    from executions.management.commands.recompute_unknown_costs import correct
    from executions.models import Execution
    from observability.rebuild import rebuild

    now = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        done = report(agent_client(agent), cost_usd="0")
        with django_capture_on_commit_callbacks(execute=True):
            correct(Execution.objects.get(pk=done["id"]), Decimal("3"), "v2")
        rebuild()
        rebuild(since=now)
        assert_dashboards_equal_ledger(viewer_api, business)
        assert (
            viewer_api.get(f"/api/v1/dashboard/summary?business={business.slug}").json()["cost_usd"]
            == "3.00000000"
        )


def test_the_sweep_applies_a_correction_no_receiver_applied(viewer_api, agent, business, report):
    from executions.models import CostCorrection
    from observability.tasks import catch_up_rollups

    done = report(agent_client(agent), cost_usd="1")
    CostCorrection.objects.create(execution_id=done["id"], cost_usd=Decimal("4"), cost_source="computed")
    assert reconcile.differences() != []

    catch_up_rollups()
    catch_up_rollups()  # once only

    assert_dashboards_equal_ledger(viewer_api, business)
