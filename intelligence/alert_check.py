"""The ``agent_at_risk`` alert rule kind: agents whose predicted failure probability is at or above
the rule's threshold (0: the model's own threshold). Incidents, dedup and notices are the
observability app's, as for every other kind; this app only says what holds now."""

from datetime import datetime
from decimal import Decimal

from intelligence.models import Prediction, SubjectKind
from observability.alert_checks import Breach
from observability.alert_checks import register as register_check
from observability.models import AlertRule, RuleKind


def agent_at_risk(rule: AlertRule, now: datetime) -> dict[str, Breach]:
    scores = Prediction.objects.filter(
        business_id=rule.business_id, kind=SubjectKind.AGENT, model__in_use=True
    ).select_related("model")
    if rule.agent_id:
        scores = scores.filter(agent_id=rule.agent_id)
    found = {}
    for score in scores:
        threshold = float(rule.threshold) or score.model.threshold
        if score.probability < threshold:
            continue
        because = "; ".join(score.reasons) or "its recent history"
        found[f"agent:{score.agent_id}"] = Breach(
            Decimal(str(round(score.probability, 4))),
            f"{score.label} is at risk: {score.probability:.0%} chance its next execution fails "
            f"(threshold {threshold:.0%}; {because})",
            score.agent_id,
        )
    return found


def register() -> None:
    register_check(RuleKind.AGENT_AT_RISK, agent_at_risk)
