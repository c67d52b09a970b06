"""Agents' recent figures for the router (``executions.routing``), from the hourly rollups: one
grouped query however much history, where the ledger would scan every execution of the window."""

from datetime import datetime

from django.db.models import Sum

from executions.routing import AgentFigures
from observability.models import HourlyRollup, cost_from_e8
from observability.rollups import floor_hour


def agent_figures(business_id: int, since: datetime) -> dict[int, AgentFigures]:
    rows = (
        HourlyRollup.objects.filter(business_id=business_id, hour__gte=floor_hour(since))
        .values("agent_id")
        .annotate(
            n=Sum("executions"),
            ok=Sum("success"),
            cost=Sum("cost_e8"),
            dur=Sum("duration_ms_sum"),
            dur_n=Sum("duration_count"),
        )
    )
    return {
        r["agent_id"]: AgentFigures(
            r["n"] or 0, r["ok"] or 0, cost_from_e8(r["cost"]), r["dur"] or 0, r["dur_n"] or 0
        )
        for r in rows
    }
