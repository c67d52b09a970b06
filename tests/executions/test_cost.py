from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from executions import pricing
from executions.models import CostCorrection, CostSource, Execution
from governance.models import BudgetReservation
from tests.executions.conftest import finished, report


def recompute(*args) -> str:
    out = StringIO()
    call_command("recompute_unknown_costs", *args, stdout=out)
    return out.getvalue()


def test_a_reported_cost_wins_over_price_data():
    cost = pricing.cost_of(
        reported=Decimal("0.5"),
        provider="openai",
        model="gpt-4o",
        input_tokens=1000,
        output_tokens=0,
        cache_read_tokens=0,
        at=None,
    )
    assert (cost.usd, cost.source) == (Decimal("0.5"), CostSource.REPORTED)


def test_cache_reads_are_priced_as_part_of_input_tokens():
    at = datetime(2025, 6, 1, tzinfo=UTC)
    plain = pricing.compute(
        provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=0, cache_read_tokens=0, at=at
    )
    cached = pricing.compute(
        provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=0, cache_read_tokens=800, at=at
    )
    assert plain == Decimal("0.0025")
    assert cached == Decimal("0.0015")  # 200 at $2.50/M + 800 cache reads at $1.25/M


def test_no_model_or_an_unknown_one_is_unknown():
    for model, provider in (("", ""), ("made-up-model", "openai"), ("gpt-4o", "made-up-provider")):
        cost = pricing.cost_of(
            reported=None,
            provider=provider,
            model=model,
            input_tokens=10,
            output_tokens=10,
            cache_read_tokens=0,
            at=None,
        )
        assert (cost.usd, cost.source) == (Decimal(0), CostSource.UNKNOWN)


@pytest.fixture
def unknown_run(agent_api, monkeypatch):
    """A terminal execution whose model the price data did not know when it was recorded."""
    real = pricing.compute
    monkeypatch.setattr(pricing, "compute", lambda **kw: None)
    pk = report(agent_api, **finished()).json()["id"]
    monkeypatch.setattr(pricing, "compute", real)
    return Execution.objects.get(pk=pk)


@pytest.mark.django_db
def test_recompute_books_a_correction_beside_the_row(unknown_run, viewer_api):
    assert unknown_run.cost_source == "unknown"
    recompute()
    unknown_run.refresh_from_db()
    assert unknown_run.cost_source == "unknown" and unknown_run.cost_usd == 0  # the row is untouched
    correction = CostCorrection.objects.get(execution=unknown_run)
    assert correction.cost_usd == Decimal("0.0035") and correction.price_data_version.startswith("genai")
    body = viewer_api.get(f"/api/v1/executions/{unknown_run.pk}").json()
    assert body["cost_usd"] == "0.00350000"
    assert body["cost_source"] == "computed" and body["cost_corrected"] is True
    booked = BudgetReservation.objects.get(ref=f"cost-correction:{correction.pk}")
    assert booked.actual_usd == Decimal("0.0035")


@pytest.mark.django_db
def test_recompute_is_idempotent_and_has_a_dry_run(unknown_run):
    recompute("--dry-run")
    assert not CostCorrection.objects.exists()
    recompute()
    recompute()
    assert CostCorrection.objects.count() == 1


@pytest.mark.django_db
def test_still_unknown_models_stay_unknown(agent_api):
    report(agent_api, **finished(model="nobody-knows-me"))
    assert "0 execution(s); 1 still unknown" in recompute()
    assert not CostCorrection.objects.exists()


@pytest.mark.django_db
def test_filters_and_exports_use_the_corrected_cost(unknown_run, viewer_api):
    recompute()
    found = viewer_api.get("/api/v1/executions/?min_cost=0.003").json()["results"]
    assert [e["id"] for e in found] == [unknown_run.pk]
    lines = b"".join(viewer_api.get("/api/v1/executions/export?format=jsonl").streaming_content)
    assert b'"cost_usd":"0.00350000","cost_source":"computed"' in lines
