"""mission_control.json_text writes what json.dumps writes: report hashes and COPY text depend on it."""

import json
from datetime import datetime
from decimal import Decimal

import pytest

from mission_control import json_text

DOCUMENTS = [
    None,
    True,
    0,
    10**30,
    -0.0,
    1e300,
    float("nan"),
    float("-inf"),
    "",
    'é☃ "quoted" \\ \n \u0000',
    "\ud83d\ude00",
    [],
    {},
    {"b": [1, 2.5, None, {"z": False, "a": "x"}], "a": {"é": "", "A": 3}},
    [{"k": [[[]]]}, "s", -7],
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_it_writes_what_json_dumps_writes(document):
    assert json_text.dumps(document) == json.dumps(document)
    assert json_text.canonical(document) == json.dumps(
        document, sort_keys=True, separators=(",", ":"), default=str
    )


def test_it_hashes_what_it_cannot_encode_as_its_text():
    document = {"at": datetime(2025, 1, 1), "cost": Decimal("1.10")}
    assert json_text.canonical(document) == '{"at":"2025-01-01 00:00:00","cost":"1.10"}'


def test_it_refuses_what_json_dumps_refuses():
    with pytest.raises(TypeError):
        json_text.dumps({"cost": Decimal(1)})
