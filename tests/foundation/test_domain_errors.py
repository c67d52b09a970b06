"""Services raise DomainError; the API answers it in the contract's error shape with the status
its code maps to (one table: mission_control.errors.STATUS_BY_CODE)."""

from mission_control.api.errors import exception_handler
from mission_control.errors import STATUS_BY_CODE, DomainError


def test_it_renders_a_domain_error_in_the_error_shape_with_its_status():
    response = exception_handler(DomainError("budget_exists", "A budget exists.", budget=7), {})
    assert response.status_code == 409
    assert response.data == {"error": "budget_exists", "detail": "A budget exists.", "budget": 7}


def test_it_sends_retry_after_as_a_header_too():
    response = exception_handler(DomainError("write_conflict", "Again.", retry_after=1), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "1"


def test_it_answers_400_for_a_code_missing_from_the_table():
    assert "no_such_code" not in STATUS_BY_CODE
    assert exception_handler(DomainError("no_such_code", "?"), {}).status_code == 400
