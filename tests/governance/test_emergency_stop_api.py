import pytest

from governance.controls import emergency_stop_active
from governance.models import AuditEntry, EmergencyStop
from mission_control.models import Event
from tests.conftest import client_for


@pytest.mark.django_db
def test_an_operator_engages_the_stop_for_their_business(operator_api, business):
    response = operator_api.post(
        "/api/v1/emergency-stop", {"reason": "loop", "business": "acme"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["engaged"], body["scope"], body["business"], body["already_engaged"]) == (
        True,
        "business",
        "acme",
        False,
    )
    assert emergency_stop_active(business.pk)
    assert Event.objects.filter(kind="emergency_stop.engaged", business_id=business.pk).count() == 1
    assert AuditEntry.objects.get(action="emergency_stop.engage").actor == operator_api.user.username


@pytest.mark.django_db
def test_a_viewer_cannot_engage_it(viewer_api, business):
    response = viewer_api.post("/api/v1/emergency-stop", {"reason": "x", "business": "acme"}, format="json")
    assert response.status_code == 403
    assert not EmergencyStop.objects.exists()


@pytest.mark.django_db
def test_a_reason_is_required(operator_api):
    response = operator_api.post("/api/v1/emergency-stop", {"business": "acme"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["fields"]


@pytest.mark.django_db
def test_only_a_superuser_engages_the_global_stop(owner_api, make_member):
    assert owner_api.post("/api/v1/emergency-stop", {"reason": "x"}, format="json").status_code == 403
    root = client_for(make_member("owner", None, is_superuser=True))
    assert root.post("/api/v1/emergency-stop", {"reason": "incident"}, format="json").status_code == 200
    assert emergency_stop_active(None)


@pytest.mark.django_db
def test_engaging_twice_answers_the_stop_in_force(operator_api):
    first = operator_api.post(
        "/api/v1/emergency-stop", {"reason": "a", "business": "acme"}, format="json"
    ).json()
    again = operator_api.post(
        "/api/v1/emergency-stop/", {"reason": "b", "business": "acme"}, format="json"
    ).json()
    assert again["id"] == first["id"] and again["already_engaged"] is True
    assert again["reason"] == "a"


@pytest.mark.django_db
def test_only_an_owner_releases_it(api_as, business):
    api_as("operator").post("/api/v1/emergency-stop", {"reason": "a", "business": "acme"}, format="json")
    assert (
        api_as("admin")
        .post("/api/v1/emergency-stop/release", {"business": "acme"}, format="json")
        .status_code
        == 403
    )
    owner = api_as("owner")
    response = owner.post(
        "/api/v1/emergency-stop/release", {"business": "acme", "reason": "fixed"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["released_by"] == owner.user.username
    assert not emergency_stop_active(business.pk)
    assert EmergencyStop.objects.count() == 1  # the record stays
    assert AuditEntry.objects.filter(action="emergency_stop.release").count() == 1


@pytest.mark.django_db
def test_releasing_when_not_engaged_is_a_409(owner_api):
    response = owner_api.post("/api/v1/emergency-stop/release", {"business": "acme"}, format="json")
    assert (response.status_code, response.json()["error"]) == (409, "not_engaged")


@pytest.mark.django_db
def test_the_status_shows_the_stop_covering_the_business(viewer_api, make_member):
    assert viewer_api.get("/api/v1/emergency-stop?business=acme").json()["engaged"] is False
    root = client_for(make_member("owner", None, is_superuser=True))
    root.post("/api/v1/emergency-stop", {"reason": "incident"}, format="json")
    body = viewer_api.get("/api/v1/emergency-stop?business=acme").json()
    assert body["engaged"] is True and body["stop"]["scope"] == "global"
    assert viewer_api.get("/api/v1/emergency-stop").json()["engaged"] is True


@pytest.mark.django_db
def test_another_business_is_a_404(operator_api, other_business):
    response = operator_api.post(
        "/api/v1/emergency-stop", {"reason": "x", "business": "globex"}, format="json"
    )
    assert response.status_code == 404
    assert operator_api.get("/api/v1/emergency-stop?business=globex").status_code == 404


@pytest.mark.django_db
def test_agent_keys_cannot_touch_it(agent_api):
    assert (
        agent_api.post(
            "/api/v1/emergency-stop", {"reason": "x", "business": "acme"}, format="json"
        ).status_code
        == 403
    )
