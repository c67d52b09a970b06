"""The set-based PostgreSQL rebuild and the portable one write the very same rollups."""

from datetime import timedelta

import pytest

from agents.services import create_agent
from observability.models import DailyRollup, HourlyRollup, SourceRollup
from observability.rebuild import rebuild
from observability.rollups import DAILY_KEYS, HOURLY_COUNTERS, HOURLY_KEYS, SOURCE_COUNTERS, SOURCE_KEYS
from tests.observability.conftest import at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _snapshot():
    return (
        sorted(HourlyRollup.objects.values_list(*HOURLY_KEYS, *HOURLY_COUNTERS)),
        sorted(DailyRollup.objects.values_list(*DAILY_KEYS, *HOURLY_COUNTERS)),
        sorted(SourceRollup.objects.values_list(*SOURCE_KEYS, *SOURCE_COUNTERS)),
    )


@pytest.fixture
def varied(agent, business, other_business, make_execution):
    theirs = create_agent(business=other_business, name="other")
    start = at(22, 40, day=8)
    for n in range(40):
        began = start + timedelta(minutes=37 * n, seconds=n, microseconds=1234 * n)
        make_execution(
            announce=False,
            agent=theirs if n % 5 == 0 else agent,
            status=["success", "failed", "aborted"][n % 3],
            trigger=["cron", "workflow", "manual", "autonomous"][n % 4],
            model=["gpt-4o", "claude", ""][n % 3],
            created_at=began - timedelta(seconds=n % 7),
            started_at=None if n % 11 == 0 else began,
            finished_at=began + timedelta(minutes=(n * 13) % 150, milliseconds=n),
            duration_ms=None if n % 4 == 0 else ((n * 13) % 150) * 60_000 + n,
            input_tokens=100 * n,
            output_tokens=7 * n,
            cache_read_tokens=n,
            cost=f"0.{n:08d}",
            cron_job_id=n % 3 if n % 4 == 0 else None,
            workflow_step="classify" if n % 4 == 1 else "",
        )
    make_execution(announce=False, status="aborted", created_at=at(9), started_at=None, finished_at=None)
    return theirs


def test_it_writes_the_same_rollups_with_either_engine(varied):
    rebuild(engine="python")
    portable = _snapshot()

    rebuild(engine="sql", batch=7)

    assert _snapshot() == portable
    assert portable[0] and portable[1] and portable[2]


def test_it_rebuilds_a_business_from_a_day_on_the_same_way(varied, business):
    rebuild(engine="python")
    rebuild(engine="python", business_ids=[business.pk], since=at(12, day=9))
    portable = _snapshot()

    rebuild(engine="sql")
    rebuild(engine="sql", business_ids=[business.pk], since=at(12, day=9))

    assert _snapshot() == portable
