import pytest


@pytest.mark.django_db
def test_it_answers_malformed_json_with_the_error_shape(owner_api):
    response = owner_api.post("/api/v1/businesses/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert response.json()["detail"]


@pytest.mark.django_db
def test_it_refuses_unknown_fields(owner_api):
    response = owner_api.post(
        "/api/v1/businesses/", {"name": "X", "slug": "x", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["fields"] == {"colour": ["Unknown field."]}


@pytest.mark.django_db
def test_it_names_the_field_with_a_wrong_type(owner_api):
    response = owner_api.post("/api/v1/businesses/", {"name": ["x"], "slug": "ok"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["fields"]


@pytest.mark.django_db
def test_it_refuses_a_non_object_body(owner_api):
    response = owner_api.post("/api/v1/businesses/", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


@pytest.mark.django_db
def test_it_answers_401_without_credentials(client):
    response = client.get("/api/v1/businesses/")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.django_db
def test_it_answers_401_for_a_bad_token(client):
    response = client.get("/api/v1/businesses/", HTTP_AUTHORIZATION="Bearer mct_nope")
    assert response.status_code == 401
    assert response.json() == {"error": "authentication_failed", "detail": "Invalid or revoked credentials."}


@pytest.mark.django_db
def test_it_answers_json_404_for_unknown_api_paths(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_it_answers_405_with_the_error_shape(owner_api):
    response = owner_api.put("/api/v1/health", {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


@pytest.mark.django_db
def test_it_answers_415_for_form_bodies(owner_api):
    response = owner_api.post(
        "/api/v1/businesses/", "name=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.django_db
def test_it_echoes_a_request_id(client):
    response = client.get("/api/v1/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert len(client.get("/api/v1/health")["X-Request-ID"]) == 32
