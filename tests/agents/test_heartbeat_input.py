"""The heartbeat fast path answers exactly what HeartbeatSerializer answers: the same validated data
(values and types) for what it accepts, DRF's own errors for what it refuses."""

import pytest
from rest_framework import serializers

from agents.api.heartbeat_input import plain_heartbeat, validated_heartbeat
from agents.api.serializers import HeartbeatSerializer

BASE = {"status": "idle", "version": "1.4.2", "runtime_location": "eu-west/pod-3", "running": [12, 13]}

VARIANTS = {
    "status": ["active", "blocked", "IDLE", "", " idle", None, 1, True, "offline"],
    "version": ["", "  ", " 1.0 ", "v" * 64, "v" * 65, None, 2, 2.5, False, "a\x00b", "\ud800", "é✓"],
    "runtime_location": ["", "l" * 200, "l" * 201, "x\n", None, ["x"], {"a": 1}],
    "capabilities": [
        [],
        ["code", "research"],
        [""],
        [" code"],
        ["c" * 64],
        ["c" * 65],
        ["x"] * 50,
        ["x"] * 51,
        [1],
        [None],
        "code",
        None,
        ["\ud800"],
    ],
    "running": [
        [],
        [1],
        [0],
        [-3],
        [True],
        [1.0],
        ["5"],
        [None],
        list(range(1, 1001)),
        list(range(1, 1002)),
        5,
        None,
    ],
}


def _cases():
    yield dict(BASE)
    yield {"status": "idle"}
    yield {}
    yield {"status": "idle", "unknown": 1}
    yield []
    yield "idle"
    yield None
    for name, values in VARIANTS.items():
        for value in values:
            yield {**BASE, name: value}
        yield {k: v for k, v in BASE.items() if k != name}


def _serializer_answer(data):
    serializer = HeartbeatSerializer(data=data)
    if serializer.is_valid():
        return "valid", dict(serializer.validated_data)
    return "invalid", serializer.errors


@pytest.mark.parametrize(
    "data",
    list(_cases()),
)
def test_it_answers_as_the_serializer_does(data):
    expected = _serializer_answer(data)
    fast = plain_heartbeat(data)
    if fast is not None:  # the fast path vouched for it: the serializer must agree, value for value
        assert expected[0] == "valid", (data, expected)
        assert fast == expected[1]
        assert [type(v) for v in fast.values()] == [type(v) for v in expected[1].values()]
    if expected[0] == "valid":
        assert validated_heartbeat(data) == expected[1]
    else:
        with pytest.raises(serializers.ValidationError) as refused:
            validated_heartbeat(data)
        assert refused.value.detail == expected[1]


def test_the_common_bodies_take_the_fast_path():
    assert plain_heartbeat(BASE) is not None
    assert plain_heartbeat({"status": "active", "capabilities": ["code"], "running": []}) is not None
