"""Demo seed for governance: the admin, a demo business and its members."""

import os

from django.contrib.auth import get_user_model

from governance.models import Business, Membership
from governance.roles import Role

DEMO_PASSWORD = os.environ.get("MC_DEMO_PASSWORD", "mission-control")


def seed(context: dict) -> None:
    users = get_user_model().objects
    admin = users.filter(username="admin").first()
    if admin is None:
        admin = users.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
    business, _ = Business.objects.get_or_create(
        slug="demo", defaults={"name": "Demo Fleet", "timezone": "Europe/Paris"}
    )
    labs, _ = Business.objects.get_or_create(
        slug="labs", defaults={"name": "Research Labs", "timezone": "America/New_York"}
    )
    people = {"olivia": Role.OPERATOR, "victor": Role.VIEWER, "adele": Role.ADMIN}
    for username, role in people.items():
        user = users.filter(username=username).first() or users.create_user(
            username, f"{username}@example.com", DEMO_PASSWORD
        )
        Membership.objects.get_or_create(user=user, business=business, defaults={"role": role})
    for b in (business, labs):
        Membership.objects.get_or_create(user=admin, business=b, defaults={"role": Role.OWNER})
    context.update(admin=admin, business=business, businesses=[business, labs])
    context["stdout"].write(
        f"  Sign in at /login/ as admin / {DEMO_PASSWORD} (superuser); also olivia (operator), "
        f"victor (viewer), adele (admin), same password."
    )
