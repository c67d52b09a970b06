"""Run times from cron expressions in a zone, across DST changes, and their human reading."""

from datetime import UTC, datetime

from workflows import schedules


def test_next_run_keeps_the_local_time_across_spring_forward():
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    first = schedules.next_after("0 9 * * *", "Europe/Paris", before)
    second = schedules.next_after("0 9 * * *", "Europe/Paris", first)
    assert (first, second) == (
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    )


def test_a_time_skipped_by_spring_forward_runs_at_the_first_valid_minute():
    run = schedules.next_after("30 2 * * *", "Europe/Paris", datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    assert run == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST: 02:30 does not exist that night


def test_a_time_repeated_by_fall_back_runs_once():
    times, _ = schedules.between(
        "30 2 * * *",
        "Europe/Paris",
        datetime(2026, 10, 24, 12, tzinfo=UTC),
        datetime(2026, 10, 27, tzinfo=UTC),
        10,
    )
    assert times == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]


def test_latest_at_or_before_includes_the_moment_itself():
    moment = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    assert schedules.latest_at_or_before("0 * * * *", "UTC", moment) == moment
    assert schedules.latest_at_or_before("0 * * * *", "UTC", moment.replace(minute=59)) == moment


def test_between_stops_at_the_limit_and_says_so():
    start = datetime(2026, 5, 4, tzinfo=UTC)
    times, cut = schedules.between("* * * * *", "UTC", start, start.replace(hour=1), limit=5)
    assert len(times) == 5 and cut


def test_it_reads_an_expression_out():
    assert (
        schedules.describe("*/15 8-18 * * 1-5")
        == "Every 15 minutes, between 08:00 AM and 06:59 PM, Monday through Friday"
    )
