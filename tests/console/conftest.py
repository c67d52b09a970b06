import pytest
from django.test import Client

from agents.services import create_agent
from executions.models import Execution
from governance.roles import Role


def signed_in(user) -> Client:
    """A browser-like client with a Django session, as an operator's browser has."""
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def page_as(make_member, business):
    """``page_as("viewer")`` -> a signed-in client for a new member of ``business`` with that role."""

    def make(role: str = Role.OPERATOR, on=None):
        return signed_in(make_member(role, on or business))

    return make


@pytest.fixture
def viewer_page(page_as):
    return page_as(Role.VIEWER)


@pytest.fixture
def operator_page(page_as):
    return page_as(Role.OPERATOR)


@pytest.fixture
def stranger_agent(other_business):
    return create_agent(business=other_business, name="their-agent")


@pytest.fixture
def make_execution():
    def make(agent, **fields):
        fields.setdefault("status", "success")
        return Execution.objects.create(business_id=agent.business_id, agent=agent, **fields)

    return make
