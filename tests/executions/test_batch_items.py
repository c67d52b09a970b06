"""The batch fast path answers exactly what ReportSerializer answers: the same validated data
(values and types) for what it accepts, DRF's own errors for what it refuses."""

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework import serializers

from executions.api.batch_items import BatchValidator, validate_reports
from executions.api.serializers import ReportSerializer, body_hash

BASE = {
    "external_id": "ext-1",
    "status": "success",
    "trigger": "autonomous",
    "input": {"task": "x"},
    "output": {"label": "billing"},
    "model": "gpt-4o",
    "model_provider": "openai",
    "input_tokens": 1200,
    "output_tokens": 150,
    "cache_read_tokens": 400,
    "started_at": "2025-06-01T00:00:00+00:00",
    "finished_at": "2025-06-01T00:00:02.300000+00:00",
    "session_id": "sess-1",
}

VARIANTS = {
    "external_id": [None, "", "  ", " padded ", "x" * 200, "x" * 201, 5, 5.5, True, [], "a\x00b", "\ud800"],
    "status": ["running", "failed", "aborted", "pending", "SUCCESS", "", None, 1, "nope"],
    "trigger": ["manual", "cron", "", None, "bogus", 3],
    "input": [None, [], "text", 0, {"deep": {"er": [1, 2]}}],
    "output": [None, "", [1, 2], {"k": None}],
    "prompt": ["", "  ", " keep spaces ", None, 7, "é✓"],
    "error": ["", "boom", None, False],
    "error_type": ["", "x" * 80, "x" * 81, " RateLimit ", None],
    "model": ["", "  ", "m" * 120, "m" * 121, None, 4],
    "model_provider": ["", "p" * 60, "p" * 61],
    "input_tokens": [0, -1, 10**12, 10**12 + 1, "12", 12.0, 12.5, True, None, 399],
    "output_tokens": [0, "7", None, -3],
    "cache_read_tokens": [0, 1200, 1201, None, "400", 5000],
    "total_tokens": [0, 99, None, -1],
    "duration_ms": [None, 0, 2300, -1, 10**12, 10**12 + 1, "2300", 1.0],
    "started_at": [None, "", "2025-06-01", "2025-06-01T00:00:03Z", "2025-06-01T00:00:00", "nope", 5],
    "finished_at": [None, "2025-05-31T23:00:00+00:00", "2025-06-01T02:00:00+02:00"],
    "session_key": ["", " s ", "s" * 201],
    "session_id": [None, "", "x"],
    "cost_usd": [None, "0.5", 0.1, 1, "-1", "NaN", "abc", "1000000001"],
    "logs": [[], [{"message": "m"}], [{"level": "nope"}], "text", None],
    "unknown": ["x"],
}


def items():
    yield dict(BASE)
    yield {}
    yield {"status": "success"}
    yield {"cache_read_tokens": 5}
    yield {"cache_read_tokens": 0}
    yield "not a dict"
    yield None
    yield [BASE]
    for name, values in VARIANTS.items():
        for value in values:
            yield {**BASE, name: value}
        without = dict(BASE)
        without.pop(name, None)
        yield without
    for a, b in itertools.combinations(["input_tokens", "cache_read_tokens", "started_at", "finished_at"], 2):
        for va, vb in itertools.product(VARIANTS[a][:4], VARIANTS[b][:4]):
            yield {**BASE, a: va, b: vb}


def drf(item):
    try:
        return "ok", ReportSerializer().run_validation(item)
    except serializers.ValidationError as exc:
        return "error", exc.detail


def fast(validator, item):
    try:
        return "ok", validator.validate(item)
    except serializers.ValidationError as exc:
        return "error", exc.detail


@pytest.mark.parametrize("parsed_json", [True, False])
def test_it_answers_what_the_serializer_answers(parsed_json):
    validator = BatchValidator(parsed_json=parsed_json)
    fast_paths = 0
    for item in items():
        expected, got = drf(item), fast(validator, item)
        assert got[0] == expected[0], (item, got, expected)
        if got[0] == "ok":
            assert dict(got[1]) == dict(expected[1]), item
            assert {k: type(v) for k, v in got[1].items()} == {k: type(v) for k, v in expected[1].items()}, (
                item
            )
        else:
            assert got[1] == expected[1], item
        try:
            validator.fast(item)
            fast_paths += 1
        except Exception:
            pass
    assert fast_paths > 80  # the common shapes do take the fast path


def test_documents_that_json_cannot_encode_are_refused_off_the_api():
    item = {**BASE, "input": {"when": datetime(2025, 1, 1, tzinfo=UTC)}}
    valid, errors = validate_reports([item, {**BASE, "output": {"n": Decimal(1)}}])
    assert valid == [] and set(errors) == {0, 1}
    assert errors[0] == drf(item)[1]


def test_results_come_with_their_index_and_body_hash():
    valid, errors = validate_reports(
        [BASE, {"status": "nope"}, {**BASE, "external_id": "b"}], parsed_json=True
    )
    assert [index for index, _, _ in valid] == [0, 2]
    assert valid[0][2] == body_hash(BASE)
    assert set(errors) == {1} and "status" in errors[1]
