"""Budget windows: where a period starts and ends, in the business's own time zone.

A window is keyed by its start, so a new day, week or month is simply a new key and nothing has
to be reset at midnight. ``total`` budgets have one window that never ends.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from governance.models import BudgetPeriod

TOTAL_START = datetime(2000, 1, 1, tzinfo=UTC)
TOTAL_END = datetime(9999, 1, 1, tzinfo=UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local_midnight(year: int, month: int, day: int, tz: ZoneInfo) -> datetime:
    return datetime(year, month, day, tzinfo=tz)


def bounds(period: str, tz_name: str, at: datetime) -> tuple[datetime, datetime]:
    """The ``[start, end)`` of the window of ``period`` containing ``at``, both in UTC."""
    if period == BudgetPeriod.TOTAL:
        return TOTAL_START, TOTAL_END
    tz = zone(tz_name)
    local = at.astimezone(tz)
    if period == BudgetPeriod.DAY:
        start = _local_midnight(local.year, local.month, local.day, tz)
        nxt = local.date() + timedelta(days=1)
        end = _local_midnight(nxt.year, nxt.month, nxt.day, tz)
    elif period == BudgetPeriod.WEEK:
        monday = local.date() - timedelta(days=local.weekday())
        start = _local_midnight(monday.year, monday.month, monday.day, tz)
        nxt = monday + timedelta(days=7)
        end = _local_midnight(nxt.year, nxt.month, nxt.day, tz)
    elif period == BudgetPeriod.MONTH:
        start = _local_midnight(local.year, local.month, 1, tz)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        end = _local_midnight(year, month, 1, tz)
    else:
        raise ValueError(f"unknown budget period {period!r}")
    # Local midnights built with tzinfo are correct across DST changes; store them as UTC.
    return start.astimezone(UTC), end.astimezone(UTC)
