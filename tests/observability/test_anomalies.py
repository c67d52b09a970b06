"""Anomaly detection against each agent's own baseline (median and MAD of its previous hours)."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from mission_control.models import Event
from observability.anomalies import robust_z
from observability.models import Anomaly
from observability.tasks import detect_anomalies
from tests.observability.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def baseline(agent, make_execution):
    """20 ordinary hours before 2025-03-10 10:00: ~1 s runs costing ~1 cent, one failure in 60."""
    start = at(10) - timedelta(hours=20)
    for hour in range(20):
        for n, duration in enumerate((950 + hour * 5, 1000, 1050 - hour * 3)):
            began = start + timedelta(hours=hour, minutes=10 * n)
            make_execution(
                started_at=began,
                finished_at=began + timedelta(milliseconds=duration),
                duration_ms=duration,
                cost="0.0100",
                status="failed" if (hour, n) == (7, 1) else "success",
            )


def _hour_of(make_execution, durations, cost="0.0100", status="success"):
    for n, duration in enumerate(durations):
        began = at(10, 10 * n)
        make_execution(
            started_at=began,
            finished_at=began + timedelta(milliseconds=duration),
            duration_ms=duration,
            cost=cost,
            status=status,
        )


def test_it_flags_an_hour_far_from_the_agents_baseline_and_says_why(
    viewer_api, baseline, agent, make_execution
):
    _hour_of(make_execution, (9_800, 10_100, 10_400))

    with time_machine.travel(at(11, 5), tick=False):
        assert detect_anomalies.delay().get() == 1

    anomaly = Anomaly.objects.get()
    assert (anomaly.agent_id, anomaly.metric, anomaly.hour) == (agent.pk, "duration_ms", at(10))
    assert anomaly.value == 10_100
    assert anomaly.baseline_median == Decimal("1006.33333333")  # hourly means (3000 + 2h) / 3
    assert anomaly.score > 100
    assert "above its median of 1,006 ms over the previous 20 active hours (10.0× usual)" in anomaly.reason
    event = Event.objects.get(kind="anomaly.detected")
    assert (event.agent_id, event.data["metric"]) == (agent.pk, "duration_ms")
    listed = viewer_api.get("/api/v1/anomalies?business=acme&metric=duration_ms").json()["results"]
    assert [(a["agent"], a["reason"]) for a in listed] == [(agent.pk, anomaly.reason)]


def test_it_records_an_anomaly_once(baseline, make_execution):
    _hour_of(make_execution, (9_800, 10_100, 10_400))

    with time_machine.travel(at(11, 5), tick=False):
        detect_anomalies.delay()
        detect_anomalies.delay()

    assert Anomaly.objects.count() == 1
    assert Event.objects.filter(kind="anomaly.detected").count() == 1


def test_it_flags_a_jump_in_cost_and_failures(baseline, make_execution):
    _hour_of(make_execution, (1_000, 1_010, 990), cost="0.2500", status="failed")

    with time_machine.travel(at(11, 5), tick=False):
        detect_anomalies.delay()

    assert set(Anomaly.objects.values_list("metric", flat=True)) == {"cost_usd", "failure_rate"}


def test_it_leaves_an_ordinary_hour_alone(baseline, make_execution):
    _hour_of(make_execution, (990, 1_020, 1_060))

    with time_machine.travel(at(11, 5), tick=False):
        assert detect_anomalies.delay().get() == 0


def test_it_waits_for_enough_history(agent, make_execution):
    _hour_of(make_execution, (9_800, 10_100, 10_400))

    with time_machine.travel(at(11, 5), tick=False):
        assert detect_anomalies.delay().get() == 0


def test_it_scores_with_median_and_mad():
    score = robust_z(20.0, [9.0, 10.0, 10.0, 11.0, 50.0])

    assert (score.median, score.mad) == (10.0, 1.0)
    assert round(score.z, 3) == round(0.6745 * 10, 3)


def test_it_hides_other_businesses_anomalies(viewer_api, other_business):
    assert viewer_api.get("/api/v1/anomalies?business=globex").status_code == 404
