"""Push signatures, checked against a published HMAC-SHA256 vector (no server needed)."""

from mission_control_sdk import SIGNATURE_HEADER, signature, verify_signature

BODY = b"The quick brown fox jumps over the lazy dog"
KNOWN = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"


def test_it_signs_as_hmac_sha256_of_the_raw_body():
    assert signature("key", BODY) == KNOWN


def test_it_accepts_the_signature_of_exactly_the_body():
    assert verify_signature("key", BODY, KNOWN)


def test_it_refuses_a_changed_body_a_wrong_secret_or_no_header():
    assert not verify_signature("key", BODY + b".", KNOWN)
    assert not verify_signature("other", BODY, KNOWN)
    assert not verify_signature("key", BODY, None)
    assert not verify_signature("key", BODY, "")


def test_it_names_the_header_the_server_sends():
    assert SIGNATURE_HEADER == "X-MC-Signature"
