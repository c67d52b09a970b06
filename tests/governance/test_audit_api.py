import pytest

from governance import audit


@pytest.fixture
def entries(business, other_business):
    audit.record(actor="alice", action="budget.update", business=business, target_type="budget", target_id=1)
    audit.record(actor="bob", action="policy.create", business=business)
    audit.record(actor="eve", action="budget.update", business=other_business)
    audit.record(actor="root", action="emergency_stop.engage")


@pytest.mark.django_db
def test_an_admin_reads_their_business_audit_newest_first(api_as, entries):
    body = api_as("admin").get("/api/v1/audit/?business=acme").json()
    assert [e["actor"] for e in body["results"]] == ["bob", "alice"]
    assert body["results"][1]["target_id"] == "1"


@pytest.mark.django_db
def test_without_a_business_it_lists_every_business_the_caller_administers(api_as, entries):
    assert [e["actor"] for e in api_as("admin").get("/api/v1/audit").json()["results"]] == ["bob", "alice"]


@pytest.mark.django_db
def test_it_filters_by_action_family(api_as, entries):
    body = api_as("owner").get("/api/v1/audit?business=acme&action=budget.").json()
    assert [e["action"] for e in body["results"]] == ["budget.update"]


@pytest.mark.django_db
def test_operators_cannot_read_it(operator_api, entries):
    assert operator_api.get("/api/v1/audit/?business=acme").status_code == 403
    assert operator_api.get("/api/v1/audit/").status_code == 403


@pytest.mark.django_db
def test_another_business_is_a_404(api_as, entries):
    assert api_as("owner").get("/api/v1/audit/?business=globex").status_code == 404


@pytest.mark.django_db
def test_it_is_read_only(api_as, entries):
    assert api_as("owner").post("/api/v1/audit/", {}, format="json").status_code == 405
