"""At-risk agents on the control panel, the model's standing and scores on the bottlenecks page,
and the advice page: the same rows as /api/v1/predictions, /prediction-models and /suggestions."""

import pytest
import time_machine

from governance.roles import Role
from intelligence import scoring, suggestions, training
from intelligence.models import Prediction, PredictionModel
from tests.console.conftest import signed_in
from tests.intelligence.conftest import NOW, degrading_history, fleet  # noqa: F401 (fixtures)
from tests.intelligence.histories import step_execution
from tests.intelligence.test_scoring import failing_agent_and_moment
from workflows.definitions import create_workflow


@pytest.fixture
def scored(business, degrading_history):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        model = training.train(business=business)[0]
    scoring.score_business(business=business, now=failing_agent_and_moment(degrading_history)[1])
    return model


@pytest.mark.django_db
def test_the_control_panel_shows_the_at_risk_agent_with_its_reasons(viewer_page, scored):
    flagged = Prediction.objects.get(at_risk=True)
    html = viewer_page.get("/control").content.decode()
    assert "At risk" in html and flagged.label in html
    assert f"{flagged.probability:.0%}" in html
    assert flagged.reasons[0] in html.replace("&#x27;", "'")
    assert f"Model v{scored.version} in use" in html


@pytest.mark.django_db
def test_the_bottlenecks_page_shows_the_metrics_beside_the_baseline(viewer_page, scored):
    html = viewer_page.get("/global/bottlenecks").content.decode()
    assert "Failure prediction" in html and "Baseline: recent failure rate" in html
    assert f"{scored.metrics['roc_auc']:.3f}" in html and f"{scored.baseline_metrics['roc_auc']:.3f}" in html


@pytest.mark.django_db
def test_a_model_that_does_not_beat_the_baseline_is_said_to_be_unused(viewer_page, scored):
    PredictionModel.objects.filter(pk=scored.pk).update(
        in_use=False, verdict="Does not beat the baseline: x. Not used."
    )
    html = viewer_page.get("/global/bottlenecks").content.decode()
    assert "No model in use" in html and "Does not beat the baseline" in html
    assert "Nothing scored." in html


@pytest.fixture
def advice(business, agent):
    wf = create_workflow(
        business=business,
        name="p",
        definition={"steps": [{"id": "sum", "agent": agent.pk, "timeout_s": 3600}]},
    )
    for _ in range(25):
        step_execution(wf, step="sum", agent=agent)
    suggestions.refresh(business=business, now=NOW)


@pytest.mark.django_db
def test_the_advice_page_lists_suggestions_and_lets_admins_apply(page_as, advice):
    admin_html = page_as(Role.ADMIN).get("/global/advice").content.decode()
    assert "timeout is 60.0 min while its p99 duration is" in admin_html
    assert "/apply" in admin_html and "/dismiss" in admin_html
    viewer_html = page_as(Role.VIEWER).get("/global/advice").content.decode()
    assert "timeout is 60.0 min" in viewer_html and "/apply" not in viewer_html


@pytest.mark.django_db
def test_a_stranger_sees_no_advice(make_member, other_business, advice):
    html = signed_in(make_member(Role.OWNER, other_business)).get("/global/advice").content.decode()
    assert "No open suggestions" in html
