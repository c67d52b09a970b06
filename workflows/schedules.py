"""Cron expressions: validation, next and previous run times, the human reading.

cronsim computes run times (it follows Debian cron through DST changes: a time skipped by
spring-forward runs at the first valid minute after, an hour repeated by fall-back runs once);
cron-descriptor reads them out. Beat fires the same expression through a celery ``crontab``, so an
expression is only accepted when both understand it the same way.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from celery.schedules import crontab
from cron_descriptor import get_description
from cronsim import CronSim, CronSimError


class ScheduleError(ValueError):
    """A bad expression or zone; ``field`` names the API field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CrontabFields:
    minute: str
    hour: str
    day_of_month: str
    month_of_year: str
    day_of_week: str


def validate_timezone(name: str) -> ZoneInfo:
    # available_timezones() keeps out oddities ZoneInfo would load from a path ("../etc/...").
    if not name or name not in _zones():
        raise ScheduleError("timezone", f"'{name}' is not an IANA time zone (e.g. Europe/Paris).")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed but unreadable
        raise ScheduleError("timezone", f"'{name}' cannot be loaded.") from exc


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def validate_expression(expr: str) -> CrontabFields:
    """Return the five fields, or raise ScheduleError naming ``schedule``."""
    parts = (expr or "").split()
    if len(parts) != 5:
        raise ScheduleError(
            "schedule", "A cron expression has 5 fields: minute hour day-of-month month day-of-week."
        )
    try:
        CronSim(" ".join(parts), datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ScheduleError("schedule", f"Invalid cron expression: {exc}.") from exc
    fields = CrontabFields(*parts[:2], day_of_month=parts[2], month_of_year=parts[3], day_of_week=parts[4])
    if not fields.day_of_month.startswith("*") and not fields.day_of_week.startswith("*"):
        # cron ORs the two day fields, celery's crontab ANDs them: refuse rather than fire wrongly.
        raise ScheduleError(
            "schedule", "Restrict either the day of the month or the day of the week, not both."
        )
    try:
        crontab(
            minute=fields.minute,
            hour=fields.hour,
            day_of_month=fields.day_of_month,
            month_of_year=fields.month_of_year,
            day_of_week=fields.day_of_week,
        )
    except (ValueError, TypeError) as exc:
        raise ScheduleError("schedule", f"The scheduler cannot fire this expression: {exc}") from exc
    return fields


def next_after(expr: str, zone: str, moment: datetime) -> datetime | None:
    """The first run strictly after ``moment``, in UTC."""
    try:
        return next(CronSim(expr, moment.astimezone(ZoneInfo(zone)))).astimezone(UTC)
    except StopIteration:
        return None


def latest_at_or_before(expr: str, zone: str, moment: datetime) -> datetime | None:
    """The last run at or before ``moment``, in UTC."""
    # CronSim in reverse yields times strictly before its start: start one second later.
    start = (moment + timedelta(seconds=1)).replace(microsecond=0)
    try:
        return next(CronSim(expr, start.astimezone(ZoneInfo(zone)), reverse=True)).astimezone(UTC)
    except StopIteration:
        return None


def between(expr: str, zone: str, start: datetime, end: datetime, limit: int) -> tuple[list[datetime], bool]:
    """Run times in ``[start, end)``, at most ``limit``; the flag says whether more were cut off."""
    found: list[datetime] = []
    iterator = CronSim(expr, (start - timedelta(seconds=1)).astimezone(ZoneInfo(zone)))
    for moment in iterator:
        moment = moment.astimezone(UTC)
        if moment >= end:
            return found, False
        if len(found) == limit:
            return found, True
        found.append(moment)
    return found, False


def describe(expr: str) -> str:
    try:
        return get_description(expr)
    except Exception:  # the reading is a nicety; an odd expression still schedules
        return expr
