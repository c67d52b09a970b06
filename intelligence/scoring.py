"""Scoring: every agent, cron job and workflow step of a business with recent work gets the
probability that its next execution fails, from the business's model in use. Run by the beat
sweep every two minutes; an agent that becomes at risk publishes ``agent.at_risk`` once."""

import logging
import math
from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from governance.models import Business
from intelligence import features as F
from intelligence import history as H
from intelligence import reasons, training
from intelligence.models import AgentVersionSeen, Prediction, PredictionModel, SubjectKind
from mission_control.errors import DomainError
from mission_control.events import publish

logger = logging.getLogger(__name__)
LOOKBACK = timedelta(hours=25)  # the features' longest window (24 h) and a margin


def record_version(*, agent: Agent, version: str, seen_at: datetime) -> bool:
    """Remember that ``agent`` reported ``version`` from ``seen_at`` on (once per change)."""
    latest = (
        AgentVersionSeen.objects.filter(agent=agent, seen_at__lte=seen_at)
        .order_by("-seen_at")
        .values_list("version", flat=True)
        .first()
    )
    if latest == version:
        return False
    AgentVersionSeen.objects.get_or_create(agent=agent, version=version, seen_at=seen_at)
    return True


def note_versions(*, business: Business, now: datetime) -> int:
    """Remember each agent's version when it changes (the ledger keeps none): a deploy is a feature."""
    latest: dict[int, str] = {}
    for agent_id, version in (
        AgentVersionSeen.objects.filter(agent__business=business)
        .order_by("agent_id", "seen_at")
        .values_list("agent_id", "version")
    ):
        latest[agent_id] = version
    new = [
        AgentVersionSeen(agent_id=pk, version=version, seen_at=now)
        for pk, version in Agent.objects.filter(business=business)
        .exclude(version="")
        .values_list("pk", "version")
        if latest.get(pk) != version
    ]
    AgentVersionSeen.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _json(value):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value


def score_business(*, business: Business, now: datetime | None = None) -> dict:
    """Score every subject with recent work; returns counts. No model in use: no scores (and the
    scores of a retired model are removed, so no page shows them)."""
    now = now or timezone.now()
    note_versions(business=business, now=now)
    model = PredictionModel.objects.filter(business=business, in_use=True).first()
    if model is None:
        Prediction.objects.filter(business=business).delete()
        return {"scored": 0, "at_risk": 0, "model": None}
    fitted = training.estimator(model)
    history = H.load(business.pk, since=now - LOOKBACK, until=now)
    t = now.timestamp()
    scored = []
    for subject, timeline in history.timelines.items():
        values = F.compute(timeline, t, presence=history.presence, providers=history.providers)
        if values is not None:
            scored.append((subject, values))
    probabilities = (
        fitted.predict_proba(np.array([F.vector(v) for _, v in scored]))[:, 1] if scored else np.array([])
    )
    rows = []
    for (subject, values), p in zip(scored, probabilities, strict=True):
        pushes = training.contributions(fitted, np.array(F.vector(values)))
        rows.append((subject, values, float(p), reasons.top(values, pushes)))
    return _save(business=business, model=model, rows=rows, labels=history.labels, now=now)


@transaction.atomic
def _save(*, business, model, rows, labels, now) -> dict:
    # Lock this business's scores: two sweeps at once publish each at-risk transition once.
    existing = {
        (p.kind, p.subject): p for p in Prediction.objects.select_for_update().filter(business=business)
    }
    keep, at_risk = set(), 0
    for (kind, key), values, probability, why in rows:
        subject = H.subject_key(kind, key)
        keep.add((kind, subject))
        risky = probability >= model.threshold
        at_risk += risky
        previous = existing.get((kind, subject))
        became = risky and (previous is None or not previous.at_risk)
        fields = {
            "label": labels.get((kind, key), subject)[:300],
            "agent_id": values["_raw"]["agent_id"] if kind == SubjectKind.AGENT else None,
            "probability": min(max(probability, 0.0), 1.0),
            "baseline": float(values["fail_rate_last20"]),
            "at_risk": risky,
            "at_risk_since": (now if became else previous.at_risk_since) if risky else None,
            "reasons": why,
            "features": _json({k: v for k, v in values.items()}),
            "model": model,
            "scored_at": now,
        }
        Prediction.objects.update_or_create(business=business, kind=kind, subject=subject, defaults=fields)
        if became and kind == SubjectKind.AGENT:
            _announce(business, fields, probability, model)
    stale = [p.pk for key, p in existing.items() if key not in keep]
    Prediction.objects.filter(pk__in=stale).delete()
    return {"scored": len(rows), "at_risk": at_risk, "model": model.version}


def _announce(business, fields, probability, model) -> None:
    because = "; ".join(fields["reasons"]) or "its recent history"
    publish(
        kind="agent.at_risk",
        business=business,
        agent_id=fields["agent_id"],
        actor="system",
        message=f"{fields['label']} is at risk: {probability:.0%} chance its next execution fails ({because})",
        data={
            "probability": round(probability, 4),
            "baseline": round(fields["baseline"], 4),
            "threshold": model.threshold,
            "reasons": fields["reasons"],
            "model_version": model.version,
        },
    )


def score_all(*, now: datetime | None = None) -> dict:
    """The sweep: every business, each on its own (one failing does not stop the others)."""
    totals = {"businesses": 0, "scored": 0, "at_risk": 0}
    for business in Business.objects.order_by("pk"):
        try:
            result = score_business(business=business, now=now)
        except DomainError as exc:
            logger.warning("cannot score %s: %s", business.slug, exc.detail)
            continue
        totals["businesses"] += 1
        totals["scored"] += result["scored"]
        totals["at_risk"] += result["at_risk"]
    return totals
