import pytest

from governance.models import Business, Membership


@pytest.mark.django_db
def test_it_creates_a_business_and_makes_the_creator_owner(make_member):
    from tests.conftest import client_for

    user = make_member("viewer", None, username="founder")
    api = client_for(user)
    response = api.post("/api/v1/businesses", {"name": "Initech", "slug": "initech"}, format="json")
    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    assert Membership.objects.get(user=user, business__slug="initech").role == "owner"


@pytest.mark.django_db
def test_it_refuses_a_taken_slug(owner_api, business):
    response = owner_api.post("/api/v1/businesses", {"name": "Again", "slug": business.slug}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "slug_taken"
    assert Business.objects.count() == 1


@pytest.mark.django_db
def test_it_lists_only_the_callers_businesses(owner_api, other_business):
    slugs = [b["slug"] for b in owner_api.get("/api/v1/businesses").json()["results"]]
    assert slugs == ["acme"]


@pytest.mark.django_db
def test_it_hides_other_businesses_as_404(owner_api, other_business):
    assert owner_api.get(f"/api/v1/businesses/{other_business.slug}/members").status_code == 404


@pytest.mark.django_db
def test_an_owner_adds_and_changes_a_member(owner_api, make_member, business):
    make_member("viewer", None, username="bob")
    response = owner_api.post(
        "/api/v1/businesses/acme/members", {"username": "bob", "role": "operator"}, format="json"
    )
    assert response.status_code == 200
    assert Membership.objects.get(user__username="bob").role == "operator"
    owner_api.post("/api/v1/businesses/acme/members/", {"username": "bob", "role": "admin"}, format="json")
    assert Membership.objects.get(user__username="bob").role == "admin"


@pytest.mark.django_db
def test_an_admin_cannot_manage_members(api_as, make_member):
    make_member("viewer", None, username="bob")
    response = api_as("admin").post(
        "/api/v1/businesses/acme/members", {"username": "bob", "role": "viewer"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert not Membership.objects.filter(user__username="bob").exists()


@pytest.mark.django_db
def test_it_refuses_an_unknown_role(owner_api, make_member):
    make_member("viewer", None, username="bob")
    response = owner_api.post(
        "/api/v1/businesses/acme/members", {"username": "bob", "role": "god"}, format="json"
    )
    assert response.status_code == 400
    assert "role" in response.json()["fields"]


@pytest.mark.django_db
def test_an_owner_removes_a_member(owner_api, make_member, business):
    make_member("viewer", business, username="bob")
    assert owner_api.delete("/api/v1/businesses/acme/members/bob").status_code == 204
    assert not Membership.objects.filter(user__username="bob").exists()


@pytest.mark.django_db
def test_the_last_owner_cannot_leave(owner_api):
    response = owner_api.delete(f"/api/v1/businesses/acme/members/{owner_api.user.username}")
    assert response.status_code == 409
    assert response.json()["error"] == "last_owner"


@pytest.mark.django_db
def test_an_agent_key_cannot_use_operator_endpoints(agent_api):
    response = agent_api.get("/api/v1/businesses")
    assert response.status_code == 403
