import pytest
from rest_framework.test import APIRequestFactory

from governance.permissions import AgentsOnly, PeopleOnly, role_required
from mission_control.errors import DomainError
from tests.conftest import agent_client


class Obj:
    def __init__(self, business_id):
        self.business_id = business_id


def request_as(user, method="post"):
    request = getattr(APIRequestFactory(), method)("/")
    request.user = user
    request.method = method.upper()
    return request


@pytest.mark.django_db
def test_it_lets_an_operator_act_and_a_viewer_only_read(make_member, business):
    perm = role_required("operator")()
    operator = make_member("operator", business)
    viewer = make_member("viewer", business)
    assert perm.has_object_permission(request_as(operator), None, Obj(business.pk))
    assert perm.has_object_permission(request_as(viewer, "get"), None, Obj(business.pk))
    with pytest.raises(DomainError) as refused:
        perm.has_object_permission(request_as(viewer), None, Obj(business.pk))
    assert refused.value.code == "permission_denied"


@pytest.mark.django_db
def test_it_hides_another_business_as_not_found(make_member, business, other_business):
    perm = role_required("viewer")()
    with pytest.raises(DomainError) as refused:
        perm.has_object_permission(
            request_as(make_member("owner", business), "get"), None, Obj(other_business.pk)
        )
    assert refused.value.code == "not_found"


@pytest.mark.django_db
def test_a_superuser_may_do_everything(django_user_model, other_business):
    root = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    assert role_required("owner")().has_object_permission(request_as(root), None, Obj(other_business.pk))


@pytest.mark.django_db
def test_people_and_agents_are_told_apart(agent, make_member, business):
    from agents.auth import AgentActor, KeyIdentity
    from agents.models import AgentKey

    agent_client(agent)
    key = AgentKey.objects.get(agent=agent)
    actor = AgentActor(KeyIdentity(pk=key.pk, agent_id=agent.pk, business_id=agent.business_id), agent)
    person = make_member("viewer", business)
    assert not PeopleOnly().has_permission(request_as(actor), None)
    assert PeopleOnly().has_permission(request_as(person), None)
    assert AgentsOnly().has_permission(request_as(actor), None)
    assert not AgentsOnly().has_permission(request_as(person), None)
