import pytest

from autoscaling.models import AutoscalePolicy
from autoscaling.services import evaluate
from governance.models import AuditEntry
from mission_control import periodic

pytestmark = pytest.mark.django_db

FORM = {
    "min_replicas": 1,
    "max_replicas": 6,
    "target_pending_per_replica": 5,
    "target_wait_s": "",
    "scale_up_window_s": 0,
    "scale_down_window_s": 300,
    "max_scale_up_step": 4,
    "max_scale_down_step": 1,
    "cooldown_s": 60,
}


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_an_admin_creates_a_policy_through_the_service(admin_client, worker):
    response = admin_client.post(
        "/admin/autoscaling/autoscalepolicy/add/", {"agent": worker.pk, "enabled": "on", **FORM}
    )
    assert response.status_code == 302
    assert AutoscalePolicy.objects.get(agent=worker).max_replicas == 6
    assert AuditEntry.objects.get(action="agent.autoscale_policy").actor == "root"


def test_the_admin_form_names_a_bound_outside_the_agent(admin_client, worker):
    response = admin_client.post(
        "/admin/autoscaling/autoscalepolicy/add/", {"agent": worker.pk, **FORM, "max_replicas": 99}
    )
    assert response.status_code == 200
    assert "maximum scale (20)" in response.content.decode()
    assert not AutoscalePolicy.objects.exists()


def test_the_decisions_are_read_only_in_the_admin(admin_client, worker, policy):
    decision = evaluate(agent_id=worker.pk)
    assert admin_client.get("/admin/autoscaling/autoscaledecision/").status_code == 200
    page = admin_client.get(f"/admin/autoscaling/autoscaledecision/{decision.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_the_sweep_is_registered_with_the_others():
    assert ("autoscaling.evaluate", "autoscaling.tasks.evaluate_policies", 15) in periodic.declared()
