"""Membership roles, from least to most: each role can do everything the ones below it can."""

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3, Role.OWNER: 4}


def at_least(role: str | None, required: str) -> bool:
    return role is not None and RANK.get(role, 0) >= RANK[required]
