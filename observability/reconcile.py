"""Do the rollups equal the ledger? Hour by hour and day by day, counts, tokens and cost.

The dashboards read only the rollups, so this is the check that they tell the truth: the tests
run it after every scenario (a moved clock, late arrivals, a rebuild racing reports), the
benchmark runs it over its millions of rows, and ``manage.py check_rollups`` lets an operator run
it (then ``rebuild_rollups`` for what it names).

Two things are compared per business and UTC hour (and per UTC day for the daily rows): the
terminal executions whose bucket time (``finished_at``, else ``started_at``, else ``created_at``)
falls in it, and what the rollups say of them. A difference is reported, never repaired here.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Max, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDay, TruncHour

from executions.models import TERMINAL, ArchivedMonth, CostCorrection, Execution
from observability.models import DailyRollup, HourlyRollup, cost_from_e8
from observability.rollups import floor_day, floor_hour

FIGURES = ("executions", "total_tokens", "cost_usd")


@dataclass(frozen=True)
class Difference:
    table: str  # "hourly" or "daily"
    business_id: int
    bucket: datetime
    ledger: dict
    rollup: dict

    def __str__(self) -> str:
        return f"{self.table} business {self.business_id} {self.bucket.isoformat()}: ledger {self.ledger} != rollup {self.rollup}"


def ledger_rows(*, business_ids: list[int] | None = None, since: datetime | None = None):
    """The terminal executions a dashboard window counts, ``bucket`` annotated (its time)."""
    qs = Execution.objects.filter(status__in=TERMINAL).annotate(
        bucket=Coalesce(F("finished_at"), F("started_at"), F("created_at"))
    )
    if business_ids is not None:
        qs = qs.filter(business_id__in=business_ids)
    if since is not None:
        qs = qs.filter(bucket__gte=since)
    return qs


def ledger_totals(*, business_ids: list[int] | None = None, since: datetime | None = None) -> dict:
    """``{"executions", "total_tokens", "cost_usd"}`` summed straight from the ledger; the cost is
    the one that counts (the latest correction's where there is one), as the explorer and export show."""
    found = ledger_rows(business_ids=business_ids, since=since).aggregate(
        executions=Count("pk"), total_tokens=Sum("total_tokens"), cost_usd=Sum("cost_usd")
    )
    corrected = sum(_corrections(business_ids, since, None).values(), Decimal(0))
    return {
        "executions": found["executions"],
        "total_tokens": found["total_tokens"] or 0,
        "cost_usd": Decimal(found["cost_usd"] or 0) + corrected,
    }


def _corrections(business_ids, since, trunc) -> dict:
    """``{(business id, bucket): latest correction - own cost}`` of the corrected rows in the window
    (few: corrections are rare), so the big sums stay plain sums of ``cost_usd``."""
    latest = CostCorrection.objects.filter(execution_id=OuterRef("pk")).order_by("-pk").values("cost_usd")[:1]
    rows = (
        ledger_rows(business_ids=business_ids, since=since)
        .filter(pk__in=CostCorrection.objects.values("execution_id"))
        .annotate(latest=Subquery(latest))
    )
    found: dict = defaultdict(Decimal)
    for row in rows.values("business_id", "bucket", "latest", "cost_usd"):
        at = trunc(row["bucket"]) if trunc else None
        found[(row["business_id"], at)] += Decimal(row["latest"]) - Decimal(row["cost_usd"])
    return found


def _ledger_by(trunc, business_ids, since) -> dict[tuple, dict]:
    rows = (
        ledger_rows(business_ids=business_ids, since=since)
        .annotate(at=trunc("bucket"))
        .values("business_id", "at")
        .annotate(executions=Count("pk"), total_tokens=Sum("total_tokens"), cost_usd=Sum("cost_usd"))
        .order_by()
    )
    found = {
        (r["business_id"], r["at"]): {
            "executions": r["executions"],
            "total_tokens": r["total_tokens"] or 0,
            "cost_usd": Decimal(r["cost_usd"] or 0),
        }
        for r in rows
    }
    for key, delta in _corrections(business_ids, since, _FLOOR[trunc]).items():
        found[key]["cost_usd"] += delta
    return found


def _rollups_by(model, field: str, business_ids, since) -> dict[tuple, dict]:
    qs = model.objects.all()
    if business_ids is not None:
        qs = qs.filter(business_id__in=business_ids)
    if since is not None:
        qs = qs.filter(**{f"{field}__gte": since})
    rows = (
        qs.values("business_id", field)
        .annotate(executions=Sum("executions"), total_tokens=Sum("total_tokens"), cost_e8=Sum("cost_e8"))
        .order_by()
    )
    found: dict[tuple, dict] = defaultdict(dict)
    for r in rows:
        if not r["executions"]:
            continue  # a row holding only busy time of a run that ended in a later hour
        found[(r["business_id"], r[field])] = {
            "executions": r["executions"],
            "total_tokens": r["total_tokens"] or 0,
            "cost_usd": cost_from_e8(r["cost_e8"]),
        }
    return found


_FLOOR = {TruncHour: floor_hour, TruncDay: floor_day}


def differences(*, business_ids: list[int] | None = None, since: datetime | None = None) -> list[Difference]:
    """Every hour and day (from ``since``, a whole UTC day for the daily rows) where they disagree.
    Months archive_ledger moved out of the ledger are not compared: their rollups are their record."""
    horizon = ArchivedMonth.objects.aggregate(h=Max("until"))["h"]
    if horizon is not None and (since is None or since < horizon):
        since = horizon
    found = []
    for table, trunc, model, field in (
        ("hourly", TruncHour, HourlyRollup, "hour"),
        ("daily", TruncDay, DailyRollup, "day"),
    ):
        start = floor_day(since) if since is not None and table == "daily" else since
        ledger = _ledger_by(trunc, business_ids, start)
        rollups = _rollups_by(model, field, business_ids, start)
        empty = dict.fromkeys(FIGURES, 0)
        for key in sorted(set(ledger) | set(rollups)):
            left, right = ledger.get(key, empty), rollups.get(key, empty)
            if any(Decimal(left[f]) != Decimal(right[f]) for f in FIGURES):
                found.append(Difference(table, key[0], key[1], left, right))
    return found
