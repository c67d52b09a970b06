import pytest
from rest_framework.test import APIClient

from governance.models import OperatorToken
from mission_control.secrets import hash_secret


@pytest.mark.django_db
def test_it_issues_a_token_for_a_password(make_member, business):
    make_member("viewer", business, username="ada")
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token", {"username": "ada", "password": "pw-secret-123"}, format="json"
    )
    assert response.status_code == 200
    raw = response.json()["token"]
    assert raw.startswith("mct_")
    token = OperatorToken.objects.get()
    assert token.key_hash == hash_secret(raw)
    assert raw not in (token.prefix, token.key_hash)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/businesses").status_code == 200


@pytest.mark.django_db
def test_it_refuses_a_wrong_password(make_member):
    make_member("viewer", None, username="ada")
    response = APIClient().post("/api/v1/auth/token", {"username": "ada", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"
    assert not OperatorToken.objects.exists()


@pytest.mark.django_db
def test_it_revokes_a_token_at_once(owner_api):
    token = OperatorToken.objects.get(user=owner_api.user)
    assert owner_api.delete(f"/api/v1/auth/tokens/{token.pk}").status_code == 204
    response = owner_api.get("/api/v1/businesses")
    assert response.status_code == 401


@pytest.mark.django_db
def test_it_records_last_use(owner_api):
    owner_api.get("/api/v1/businesses")
    assert OperatorToken.objects.get(user=owner_api.user).last_used_at is not None
