"""Schemathesis over the served schema, as a superuser, a viewer and an agent: no 5xx, no surprise.

Every operation gets a bounded number of generated cases (valid and invalid per the schema) against
the WSGI app on a seeded database; each response must be no server error, have a documented status
and content type, and match its documented schema. ``MC_FUZZ_EXAMPLES`` sets the cases per
operation and mode (default 6); the summary line printed at the end gives the figures of the run.
"""

import os
import time
from collections import Counter
from contextlib import contextmanager, suppress

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.foundation.fuzz_seed import seed

EXAMPLES = int(os.environ.get("MC_FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations a fuzzer must not drive: the caller's own sign-in (rate limits and lockouts are
# tested on their own) and revoking the caller's own credentials mid-run.
SKIP = {
    "POST /api/v1/auth/token/",
    "DELETE /api/v1/auth/tokens/{id}/",
    "DELETE /api/v1/agents/{id}/keys/{key_id}/",
}

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(1200)]


def _run(schema, headers: dict) -> tuple[int, Counter, list[str]]:
    cases, kinds, examples = 0, Counter(), []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIP:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def one(case):
                nonlocal cases
                if isinstance(case.body, dict) and "wait_seconds" in case.body:
                    case.body["wait_seconds"] = 0  # a long poll would only make the run slow
                cases += 1
                status = "-"
                try:
                    response = case.call(headers=headers)
                    status = response.status_code
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as exc:  # record each failure of the group, go on
                    for failure in getattr(exc, "exceptions", [exc]):
                        title = getattr(failure, "title", type(failure).__name__)
                        kinds[title] += 1
                        message = str(getattr(failure, "message", failure)).strip().splitlines()[0][:200]
                        line = f"{operation.label} -> {status}: {title}: {message}"
                        if line not in examples and len(examples) < 80:
                            examples.append(line)

            with suppress(Unsatisfiable):  # nothing to make invalid (no parameters, no body)
                one()
    return cases, kinds, examples


@contextmanager
def connection_kept():
    """As Django's test client does: the test's transaction holds the connection across requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("caller", ["superuser", "viewer", "agent"])
def test_it_answers_every_generated_case_as_the_schema_says(caller):
    credentials = seed()
    started = time.monotonic()
    with connection_kept():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
        cases, kinds, examples = _run(schema, {"Authorization": f"Bearer {credentials[caller]}"})
    took = time.monotonic() - started
    print(f"\nschemathesis as {caller}: {cases} cases in {took:.0f} s; failures: {dict(kinds) or 'none'}")
    assert not kinds, "\n".join(examples)
