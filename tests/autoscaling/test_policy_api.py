import pytest

from autoscaling.models import AutoscaleDecision, AutoscalePolicy
from autoscaling.services import evaluate
from governance.models import AuditEntry
from governance.roles import Role

pytestmark = pytest.mark.django_db

URL = "/api/v1/agents/{}/autoscale"


def test_it_shows_a_disabled_default_policy_before_any_is_set(viewer_api, worker):
    response = viewer_api.get(URL.format(worker.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["enabled"] is False and body["max_replicas"] == worker.max_scale
    assert not AutoscalePolicy.objects.exists()


def test_it_saves_a_policy_for_an_admin_and_audits_it(admin_api, worker):
    response = admin_api.put(
        URL.format(worker.pk),
        {
            "enabled": True,
            "min_replicas": 1,
            "max_replicas": 6,
            "target_wait_s": 30,
            "target_pending_per_replica": None,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    policy = AutoscalePolicy.objects.get(agent=worker)
    assert (policy.enabled, policy.max_replicas, policy.target_wait_s, policy.target_pending_per_replica) == (
        True,
        6,
        30,
        None,
    )
    assert AuditEntry.objects.get(action="agent.autoscale_policy").actor == admin_api.user.username


def test_it_refuses_an_operator_writing(api_as, worker):
    response = api_as(Role.OPERATOR).put(URL.format(worker.pk), {"enabled": True}, format="json")
    assert response.status_code == 403
    assert not AutoscalePolicy.objects.exists()


def test_it_hides_another_business_agent(api_as, other_business, worker):
    response = api_as(Role.OWNER, on=other_business).get(URL.format(worker.pk))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_replicas": 21}, "max_replicas"),  # above the agent's own max_scale (20)
        ({"min_replicas": 5, "max_replicas": 3}, "max_replicas"),
        (
            {"enabled": True, "target_pending_per_replica": None, "target_wait_s": None},
            "target_pending_per_replica",
        ),
        ({"cooldown_s": -1}, "cooldown_s"),
        ({"replicas": 3}, "replicas"),
    ],
)
def test_it_refuses_invalid_bounds_naming_the_field(admin_api, worker, body, field):
    response = admin_api.put(URL.format(worker.pk), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["fields"]
    assert not AutoscalePolicy.objects.exists()


def test_it_lists_the_decisions_newest_first(viewer_api, worker, policy):
    evaluate(agent_id=worker.pk)
    response = viewer_api.get(URL.format(worker.pk) + "/decisions?action=hold")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == AutoscaleDecision.objects.get().pk and row["action"] == "hold"
    assert viewer_api.get(URL.format(worker.pk) + "/decisions?action=nope").status_code == 400
