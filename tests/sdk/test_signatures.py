"""The SDK verifies what the server signs (real deliveries are verified with the SDK in
tests/executions/test_dispatch.py)."""

import json

from mission_control_sdk import SIGNATURE_HEADER, verify_signature

from executions import dispatch


def test_it_verifies_the_servers_signature_and_nothing_else():
    body = json.dumps({"execution": {"id": 7}}).encode()
    signed = dispatch.sign("mcs_secret", body)
    assert verify_signature("mcs_secret", body, signed)
    assert not verify_signature("mcs_secret", body.replace(b"7", b"8"), signed)
    assert not verify_signature("mcs_other", body, signed)
    assert SIGNATURE_HEADER == dispatch.SIGNATURE_HEADER
