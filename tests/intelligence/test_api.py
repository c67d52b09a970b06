import pytest
import time_machine

from governance.roles import Role
from intelligence import scoring, training
from tests.intelligence.conftest import NOW
from tests.intelligence.test_scoring import failing_agent_and_moment


@pytest.fixture
def scored(business, degrading_history):
    with time_machine.travel(NOW, tick=False):
        model = training.train(business=business)[0]
    scoring.score_business(business=business, now=failing_agent_and_moment(degrading_history)[1])
    return model


@pytest.mark.django_db
def test_it_lists_predictions_with_probability_reasons_and_model_version(viewer_api, scored):
    response = viewer_api.get("/api/v1/predictions/?business=acme&kind=agent")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 4
    top = rows[0]
    assert top["at_risk"] is True and 0 <= top["probability"] <= 1
    assert top["reasons"] and top["model_version"] == scored.version
    assert top["kind"] == "agent" and top["subject"] == f"agent:{top['agent']}"
    assert [r["probability"] for r in rows] == sorted((r["probability"] for r in rows), reverse=True)


@pytest.mark.django_db
def test_it_filters_at_risk(viewer_api, scored):
    rows = viewer_api.get("/api/v1/predictions?at_risk=true").json()["results"]
    assert len(rows) == 1 and rows[0]["label"] == "worker-3"


@pytest.mark.django_db
def test_it_refuses_an_unknown_kind(viewer_api, scored):
    response = viewer_api.get("/api/v1/predictions/?kind=planet")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_parameter"


@pytest.mark.django_db
def test_another_business_sees_nothing_and_gets_404_by_slug(api_as, other_business, scored):
    stranger = api_as(Role.OWNER, on=other_business)
    assert stranger.get("/api/v1/predictions/").json()["results"] == []
    assert stranger.get("/api/v1/prediction-models/").json()["results"] == []
    assert stranger.get("/api/v1/predictions/?business=acme").status_code == 404


@pytest.mark.django_db
def test_it_lists_model_versions_with_metrics_beside_the_baseline(viewer_api, scored):
    rows = viewer_api.get("/api/v1/prediction-models/?business=acme").json()["results"]
    assert len(rows) == 1
    row = rows[0]
    assert row["in_use"] is True and row["beats_baseline"] is True
    assert set(row["metrics"]) == {
        "roc_auc",
        "precision",
        "recall",
        "brier",
        "flagged",
        "positives",
        "samples",
    }
    assert row["metrics"]["roc_auc"] > row["baseline_metrics"]["roc_auc"]
    assert "artifact" not in row
