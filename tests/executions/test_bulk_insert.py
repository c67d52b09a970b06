"""The batch write path: instances made by ``new_row`` equal the constructor's, and rows written
by ``insert_rows`` (COPY on PostgreSQL, bulk_create elsewhere) read back as they were given."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from executions.models import Execution, Status, Trigger
from mission_control.bulk_insert import allocate_ids, insert_rows, new_row
from mission_control.models import Event

pytestmark = pytest.mark.django_db

STARTED = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def values(agent) -> dict:
    return {
        "business": agent.business,
        "agent": agent,
        "status": Status.SUCCESS,
        "trigger": Trigger.AUTONOMOUS,
        "external_id": "e-1",
        "input": {"task": "é ✓", "n": [1, 2.5, None]},
        "output": None,
        "started_at": STARTED,
        "finished_at": STARTED,
        "created_at": STARTED,
        "model": "gpt-4o",
        "input_tokens": 1200,
        "cost_usd": Decimal("0.00123456"),
        "request_hash": "abc",
    }


def comparable(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


def test_new_row_makes_what_the_constructor_makes(agent):
    assert comparable(new_row(Execution, **values(agent))) == comparable(Execution(**values(agent)))
    made = new_row(Execution, business=agent.business, agent=agent)
    assert made.input == {} and made.input is not new_row(Execution).input  # callables called per row
    assert made.business is agent.business and made.agent_id == agent.pk  # no query to reach them
    assert made._state.adding and made.pk is None
    event = new_row(Event, kind="x", business_id=agent.business_id)
    assert comparable(event).keys() == comparable(Event(kind="x")).keys() and event.data == {}


def test_inserted_rows_read_back_as_given(agent):
    rows = [new_row(Execution, **{**values(agent), "external_id": f"e-{i}"}) for i in range(3)]
    rows[1].output = {"label": "x"}
    written = insert_rows(rows)
    assert [row.pk for row in written] == sorted(row.pk for row in written) and None not in [
        r.pk for r in rows
    ]
    for row in written:
        stored = Execution.objects.get(pk=row.pk)
        for name in (
            "status",
            "trigger",
            "external_id",
            "input",
            "output",
            "started_at",
            "cost_usd",
            "model",
        ):
            assert getattr(stored, name) == getattr(row, name), name
    assert Execution.objects.get(pk=rows[1].pk).output == {"label": "x"}
    assert Execution.objects.get(pk=rows[0].pk).status == "success"


def test_ids_come_in_one_query_for_several_tables(agent, django_assert_num_queries):
    from django.db import connection

    if connection.vendor != "postgresql":
        assert allocate_ids((Execution, 2)) is None
        return
    with django_assert_num_queries(1):
        executions, events = allocate_ids((Execution, 3), (Event, 2))
    assert len(executions) == 3 and len(events) == 2 and executions == sorted(executions)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # a transaction of its own, with no id yet
def test_the_ids_are_drawn_after_the_transaction_has_its_own():
    from django.db import connection, transaction

    # The live stream's rule for event ids (mission_control migration 0003) holds for batches too.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id_if_assigned()")
        assert cursor.fetchone()[0] is None
        allocate_ids((Event, 2))
        cursor.execute("SELECT pg_current_xact_id_if_assigned()")
        assert cursor.fetchone()[0] is not None


@pytest.mark.postgres
def test_copied_tuples_read_back_as_given(agent):
    from mission_control.bulk_insert import copy_rows

    (ids,) = allocate_ids((Event, 3))
    documents = [{"a": "é ✓", "n": [1, 2.5, None]}, "plain text", []]
    copy_rows(
        Event,
        ["id", "ts", "kind", "business_id", "business_slug", "actor", "message", "data"],
        [(pk, STARTED, "x.y", agent.business_id, "s", "a", "m", data) for pk, data in zip(ids, documents)],
    )
    assert [Event.objects.get(pk=pk).data for pk in ids] == documents


@pytest.mark.postgres
def test_it_copies_in_binary_only_types_it_knows():
    from django.db import models

    from mission_control.bulk_insert import binary_types

    fields = tuple(Execution._meta.concrete_fields)
    assert binary_types(fields) is not None  # every ledger column has a binary form
    assert binary_types((*fields, models.UUIDField())) is None  # one unknown type: text COPY
