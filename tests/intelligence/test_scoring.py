from datetime import timedelta

import pytest
import time_machine

from intelligence import scoring, training
from intelligence.models import AgentVersionSeen, Prediction, SubjectKind
from mission_control.models import Event
from observability import alerts
from observability.models import Alert, AlertRule, RuleKind
from tests.intelligence.conftest import NOW


@pytest.fixture
def model(business, degrading_history):
    with time_machine.travel(NOW, tick=False):
        return training.train(business=business)[0]


def failing_agent_and_moment(degrading_history):
    """worker-3, 15 minutes into the failing stretch that started 16 h before NOW."""
    agent = next(a for a in degrading_history if a.name == "worker-3")
    onset = max(o for o in degrading_history[agent] if o < NOW)
    return agent, onset + timedelta(minutes=15)


@pytest.mark.django_db
def test_it_flags_the_failing_agent_with_reasons_and_not_the_healthy_ones(business, model, degrading_history):
    agent, moment = failing_agent_and_moment(degrading_history)
    result = scoring.score_business(business=business, now=moment)
    assert result["scored"] == 4 and result["model"] == model.version
    flagged = Prediction.objects.get(business=business, kind=SubjectKind.AGENT, subject=f"agent:{agent.pk}")
    assert flagged.at_risk and flagged.probability >= model.threshold
    assert flagged.probability > flagged.baseline  # ahead of the recent failure rate
    assert flagged.reasons and any("duration" in r or "failure rate" in r for r in flagged.reasons)
    others = Prediction.objects.filter(business=business, kind=SubjectKind.AGENT).exclude(pk=flagged.pk)
    assert not any(p.at_risk for p in others)


@pytest.mark.django_db
def test_it_publishes_agent_at_risk_once_per_episode(business, model, degrading_history):
    agent, moment = failing_agent_and_moment(degrading_history)
    scoring.score_business(business=business, now=moment)
    scoring.score_business(business=business, now=moment + timedelta(minutes=2))
    events = Event.objects.filter(kind="agent.at_risk", agent_id=agent.pk)
    assert events.count() == 1
    assert events.get().data["probability"] >= model.threshold


@pytest.mark.django_db
def test_a_business_without_a_model_in_use_has_no_scores(business, model, degrading_history):
    _, moment = failing_agent_and_moment(degrading_history)
    scoring.score_business(business=business, now=moment)
    model.in_use = False
    model.save(update_fields=["in_use"])
    assert scoring.score_business(business=business, now=moment)["scored"] == 0
    assert not Prediction.objects.filter(business=business).exists()


@pytest.mark.django_db
def test_it_remembers_a_new_version_as_a_deploy(business, agent):
    agent.version = "1.0.0"
    agent.save(update_fields=["version"])
    scoring.note_versions(business=business, now=NOW)
    scoring.note_versions(business=business, now=NOW + timedelta(minutes=2))
    agent.version = "1.1.0"
    agent.save(update_fields=["version"])
    scoring.note_versions(business=business, now=NOW + timedelta(minutes=4))
    assert list(AgentVersionSeen.objects.filter(agent=agent).values_list("version", flat=True)) == [
        "1.0.0",
        "1.1.0",
    ]


@pytest.mark.django_db
def test_the_at_risk_alert_rule_fires_once_and_resolves(business, model, degrading_history):
    agent, moment = failing_agent_and_moment(degrading_history)
    rule = AlertRule.objects.create(business=business, name="At risk", kind=RuleKind.AGENT_AT_RISK)
    scoring.score_business(business=business, now=moment)
    assert alerts.evaluate(now=moment)["fired"] == 1
    assert alerts.evaluate(now=moment)["fired"] == 0
    alert = Alert.objects.get(rule=rule)
    assert alert.subject == f"agent:{agent.pk}" and "at risk" in alert.message
    Prediction.objects.filter(business=business).update(probability=0.01, at_risk=False)
    assert alerts.evaluate(now=moment)["resolved"] == 1


@pytest.mark.django_db
def test_a_rule_threshold_above_the_score_does_not_fire(business, model, degrading_history):
    _, moment = failing_agent_and_moment(degrading_history)
    AlertRule.objects.create(business=business, name="Sure", kind=RuleKind.AGENT_AT_RISK, threshold="0.9999")
    scoring.score_business(business=business, now=moment)
    assert alerts.evaluate(now=moment)["fired"] == 0
