import pytest

from executions.models import Execution
from governance.models import AuditEntry


def rotate(client, agent):
    return client.post(f"/api/v1/agents/{agent.pk}/webhook")


@pytest.mark.django_db
def test_an_admin_gets_a_secret_url_that_starts_webhook_work(admin_api, agent, client):
    response = rotate(admin_api, agent)
    assert response.status_code == 201
    url = response.json()["url"]
    assert url.startswith("http://testserver/api/v1/hooks/mch_")
    fired = client.post(url.removeprefix("http://testserver"), {"order": 17}, content_type="application/json")
    assert fired.status_code == 202
    execution = Execution.objects.get(pk=fired.json()["id"])
    assert (execution.trigger, execution.status, execution.input) == ("webhook", "pending", {"order": 17})
    assert execution.requested_by.startswith("webhook:mch_")


@pytest.mark.django_db
def test_rotating_invalidates_the_old_url(admin_api, agent, client):
    old = rotate(admin_api, agent).json()["token"]
    new = rotate(admin_api, agent).json()["token"]
    assert client.post(f"/api/v1/hooks/{old}", {}, content_type="application/json").status_code == 404
    assert client.post(f"/api/v1/hooks/{new}", {}, content_type="application/json").status_code == 202
    assert AuditEntry.objects.filter(action="agent.webhook_rotate").count() == 2


@pytest.mark.django_db
def test_a_disabled_or_unknown_hook_is_404(admin_api, agent, client):
    token = rotate(admin_api, agent).json()["token"]
    assert admin_api.delete(f"/api/v1/agents/{agent.pk}/webhook").status_code == 204
    assert client.post(f"/api/v1/hooks/{token}", {}, content_type="application/json").status_code == 404
    assert client.post("/api/v1/hooks/mch_nope", {}, content_type="application/json").status_code == 404
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_the_hook_body_must_be_an_object(admin_api, agent, client):
    token = rotate(admin_api, agent).json()["token"]
    response = client.post(f"/api/v1/hooks/{token}", [1, 2], content_type="application/json")
    assert response.status_code == 400


@pytest.mark.django_db
def test_the_hook_obeys_the_emergency_stop(admin_api, agent, client, business):
    from governance.stops import engage_emergency_stop

    token = rotate(admin_api, agent).json()["token"]
    engage_emergency_stop(business=business, reason="drill", actor="system")
    response = client.post(f"/api/v1/hooks/{token}", {}, content_type="application/json")
    assert response.status_code == 423


@pytest.mark.django_db
def test_only_admins_manage_hooks(operator_api, agent):
    assert rotate(operator_api, agent).status_code == 403


@pytest.mark.django_db
def test_admins_read_and_rotate_the_push_signing_secret(admin_api, agent):
    first = admin_api.get(f"/api/v1/agents/{agent.pk}/signing-secret").json()["secret"]
    assert first.startswith("mcs_")
    assert admin_api.get(f"/api/v1/agents/{agent.pk}/signing-secret").json()["secret"] == first
    rotated = admin_api.post(f"/api/v1/agents/{agent.pk}/signing-secret").json()["secret"]
    assert rotated != first


@pytest.mark.django_db
def test_admins_set_run_defaults(admin_api, viewer_api, agent):
    url = f"/api/v1/agents/{agent.pk}/run-settings"
    body = {"timeout_s": 600, "retry_policy": {"max_attempts": 3}}
    response = admin_api.patch(url, body, format="json")
    assert response.status_code == 200
    assert response.json()["retry_policy"]["max_attempts"] == 3
    assert viewer_api.get(url).json()["timeout_s"] == 600
    assert viewer_api.patch(url, {"timeout_s": 1}, format="json").status_code == 403
    bad = admin_api.patch(url, {"retry_policy": {"backoff": 0.5}}, format="json")
    assert bad.status_code == 400 and bad.json()["fields"] == {
        "retry_policy": {"backoff": ["A number of at least 1."]}
    }
