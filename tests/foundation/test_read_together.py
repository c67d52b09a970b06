"""mission_control.read_together: several reads, one round trip where the driver allows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import Business
from mission_control.read_together import read_together

pytestmark = pytest.mark.django_db


def test_it_returns_each_statements_rows_in_order(business):
    statements = [
        ("SELECT id, slug FROM governance_business WHERE slug = %s", ["acme"]),
        ("SELECT id FROM governance_business WHERE slug = %s", ["nobody"]),  # no rows: keeps its place
        ("SELECT %s, %s", [7, "x"]),
    ]
    assert read_together(statements) == [[(business.pk, "acme")], [], [(7, "x")]]


def test_it_is_one_round_trip_on_postgresql(business):
    Business.objects.create(slug="other", name="Other")
    with CaptureQueriesContext(connection) as queries:
        read_together([("SELECT 1", []), ("SELECT slug FROM governance_business ORDER BY slug", [])])
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
