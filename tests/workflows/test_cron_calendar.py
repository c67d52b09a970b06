"""The calendar feed: past runs from their rows, upcoming runs from the schedules."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from workflows import cron, cron_firing

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)


def test_it_lists_past_runs_and_next_runs_in_the_range(business, agent, viewer_api):
    with time_machine.travel(datetime(2026, 5, 4, 8, 59, tzinfo=UTC), tick=False) as clock:
        job = cron.create_job(
            business=business, name="hourly", schedule="0 * * * *", agent=agent, overlap="allow"
        )
        for hour in (9, 10):
            clock.move_to(datetime(2026, 5, 4, hour, 0, 1, tzinfo=UTC))
            cron_firing.fire(cron_job_id=job.pk)
        clock.move_to(NOW)
        response = viewer_api.get(
            "/api/v1/cron-jobs/calendar",
            {"business": "acme", "start": "2026-05-04T08:00:00Z", "end": "2026-05-04T13:00:00Z"},
        )
    assert response.status_code == 200, response.content
    rows = [(r["kind"], r["at"], r["status"]) for r in response.json()["results"]]
    assert rows == [
        ("run", "2026-05-04T09:00:00+00:00", "running"),
        ("run", "2026-05-04T10:00:00+00:00", "running"),
        ("scheduled", "2026-05-04T11:00:00+00:00", "scheduled"),
        ("scheduled", "2026-05-04T12:00:00+00:00", "scheduled"),
    ]
    assert response.json()["truncated"] is False


def test_it_refuses_a_range_too_long_or_backwards(viewer_api):
    too_long = viewer_api.get(
        "/api/v1/cron-jobs/calendar", {"start": "2026-05-01T00:00:00Z", "end": "2026-07-01T00:00:00Z"}
    )
    backwards = viewer_api.get(
        "/api/v1/cron-jobs/calendar", {"start": "2026-05-02T00:00:00Z", "end": "2026-05-01T00:00:00Z"}
    )
    assert too_long.status_code == backwards.status_code == 400
    assert list(too_long.json()["fields"]) == ["end"]


def test_paused_jobs_have_no_upcoming_runs(business, agent, viewer_api):
    job = cron.create_job(business=business, name="hourly", schedule="0 * * * *", agent=agent)
    cron.pause_job(job=job)
    start = datetime.now(UTC)
    response = viewer_api.get(
        "/api/v1/cron-jobs/calendar",
        {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()},
    )
    assert response.json()["results"] == []
