"""A deadlock or serialization failure is a retryable conflict, never "the database is unavailable"."""

import psycopg
import pytest
from django.db import OperationalError

from mission_control.api.errors import exception_handler
from mission_control.conflicts import retrying


def deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


def test_it_answers_a_deadlock_with_503_write_conflict_and_retry_after():
    response = exception_handler(deadlock(), {})
    assert response.status_code == 503
    assert response.data["error"] == "write_conflict"
    assert response["Retry-After"] == "1"


def test_it_still_calls_a_lost_connection_an_outage():
    response = exception_handler(OperationalError("server closed the connection"), {})
    assert response.data["error"] == "service_unavailable"


@pytest.mark.django_db(transaction=True)
def test_it_repeats_a_transaction_that_lost_a_deadlock():
    calls = []

    @retrying
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise deadlock()
        return "done"

    assert flaky() == "done" and len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_with_a_write_conflict_after_its_attempts():
    @retrying(attempts=2)
    def always():
        raise deadlock()

    with pytest.raises(Exception) as raised:
        always()
    assert getattr(raised.value, "code", None) == "write_conflict"
