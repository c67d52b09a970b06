"""Agents' recent figures for the router (``executions.routing``), from the hourly rollups.

A decision among a thousand agents cannot sum a day of their hourly rows (24,000 of them, several
milliseconds of PostgreSQL alone) every time. The window's closed hours hardly change, so their
sums are kept per process, per business and window, for ``CLOSED_HOURS_TTL_S``; the current hour's
rows are read with every decision, so work that finished a moment ago counts at once. A late arrival in
a closed hour (a batch of old reports, a cost correction) reaches the router within the TTL or
when the hour turns. These are the router's estimates of cost and success, never its exclusions:
who may take work is read fresh on every decision (``executions.routing_pool``).
"""

from datetime import datetime, timedelta
from threading import Lock

import numpy as np
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from observability.models import HourlyRollup
from observability.rollups import floor_hour

CLOSED_HOURS_TTL_S = 60
COUNTERS = ("executions", "success", "cost_e8", "duration_ms_sum", "duration_count")

# business id -> (first hour, current hour, read at, rows of (agent id, *figures) over the closed hours)
_closed: dict[int, tuple[datetime, datetime, datetime, np.ndarray]] = {}
_lock = Lock()


def forget() -> None:
    """Drop the kept sums (tests; a rebuild of the rollups)."""
    with _lock:
        _closed.clear()


def _closed_hours(business_id: int, first: datetime, current: datetime, now: datetime) -> np.ndarray:
    kept = _closed.get(business_id)
    if (
        kept is not None
        and kept[:2] == (first, current)
        and kept[2] <= now < kept[2] + timedelta(seconds=CLOSED_HOURS_TTL_S)
    ):
        return kept[3]
    rows = list(
        HourlyRollup.objects.filter(business_id=business_id, hour__gte=first, hour__lt=current)
        .order_by()
        .values("agent_id")
        .annotate(*(Sum(c) for c in COUNTERS))
        .values_list("agent_id", *(f"{c}__sum" for c in COUNTERS))
    )
    # Kept as an array, the shape the router adds up: (agent id, *AgentFigures) per row.
    sums = np.array(rows, dtype=float).reshape(-1, 1 + len(COUNTERS))
    with _lock:
        _closed[business_id] = (first, current, now, sums)
    return sums


# The current hour's rows as they are (one per agent and model): the router sums them in its own
# statement. Written out once: building the queryset for every decision cost more than running it.
_CURRENT_HOUR = f"""
    SELECT agent_id, {", ".join(COUNTERS)} FROM {HourlyRollup._meta.db_table}
    WHERE business_id = %s AND hour >= %s"""  # noqa: S608 -- names, not input


def agent_figures(business_id: int, since: datetime) -> tuple[np.ndarray, tuple[str, list]]:
    """The figures since ``since`` (from its hour on), as the router takes them: the closed hours'
    kept sums, and the SQL of the current hour's rows (the router adds them up)."""
    now = timezone.now()
    current = floor_hour(now)
    live = (_CURRENT_HOUR, [business_id, connection.ops.adapt_datetimefield_value(current)])
    return _closed_hours(business_id, floor_hour(since), current, now), live
