"""Seed the browser suite's database: two businesses, an owner who belongs to one, agents, keys.

Run as ``python -m tests.browser.seed`` with the server's environment; prints one JSON line with what
the tests need (usernames, the owner's API token, an agent key). Work (executions, events) is then
created through the running server's API, as agents and operators do.
"""

import json
import os

import django


def run() -> dict:
    from django.contrib.auth import get_user_model

    from agents.services import create_agent, issue_key
    from governance.models import Membership
    from governance.roles import Role
    from governance.services import create_business, issue_operator_token

    password = "pw-browser-123"
    users = get_user_model().objects
    owner = users.create_user("olivia", "olivia@example.com", password)
    stranger = users.create_user("sam", "sam@example.com", password)
    acme = create_business(name="Acme Robotics", slug="acme", owner=owner)
    globex = create_business(name="Globex", slug="globex", owner=stranger)
    viewer = users.create_user("victor", "victor@example.com", password)
    Membership.objects.create(user=viewer, business=acme, role=Role.VIEWER)
    coder = create_agent(business=acme, name="coder-1", capabilities=["code", "review"], actor=owner)
    create_agent(business=acme, name="summariser", capabilities=["summarise"], actor=owner)
    # A long name, as real fleets have: every page must still fit it (tests/browser/test_layout.py).
    long_agent = create_agent(
        business=acme, name="nightly-reconciliation-of-enterprise-invoices-eu-west-1", actor=owner
    )
    create_agent(business=globex, name="globex-secret-agent", actor=stranger)
    _, agent_key = issue_key(agent=coder, name="browser-suite", actor=owner)
    _, token = issue_operator_token(user=owner, name="browser-suite")
    return {
        "owner": owner.username,
        "viewer": viewer.username,
        "owner_token": token,
        "business": acme.slug,
        "agent_id": coder.pk,
        "agent_key": agent_key,
        "long_agent_id": long_agent.pk,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
    django.setup()
    print(json.dumps(run()))
