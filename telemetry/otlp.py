"""The OTLP/HTTP wire format for traces: request bodies in, ``ExportTraceServiceResponse`` out.

Both encodings of the specification, decoded by the ``opentelemetry-proto`` package: binary
protobuf (``application/x-protobuf``) and JSON (``application/json``), either of them optionally
gzip-compressed (``Content-Encoding: gzip``). OTLP's JSON differs from protobuf's canonical JSON
mapping in one place: trace and span ids are hex strings, not base64, so they are re-encoded
before ``json_format`` parses the document.
"""

import base64
import json
import zlib

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from mission_control.errors import DomainError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# What each encoding may be called in Content-Type (parameters such as charset are ignored).
ENCODINGS = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def encoding_of(content_type: str) -> str:
    """The request's encoding, or 415 ``unsupported_media_type``."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in ENCODINGS:
        raise DomainError(
            "unsupported_media_type",
            f"OTLP/HTTP takes {PROTOBUF} or {JSON}, not {media or 'a body without a Content-Type'}.",
        )
    return ENCODINGS[media]


def decompress(body: bytes, content_encoding: str, limit: int) -> bytes:
    """The body as sent, gunzipped if it says so; never more than ``limit`` bytes (413)."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding != "gzip":
        raise DomainError(
            "unsupported_media_type", f"Content-Encoding {coding!r} is not supported: send gzip or none."
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        # Bounded: a small gzip bomb must not inflate into gigabytes before we look at it.
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DomainError("malformed_otlp", f"The gzip body cannot be decompressed: {exc}.") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise DomainError(
            "payload_too_large", f"The decompressed body is over {limit} bytes; send smaller batches."
        )
    return data


def parse(body: bytes, encoding: str) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from the body, or 400 ``malformed_otlp``."""
    message = ExportTraceServiceRequest()
    if encoding == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise DomainError(
                "malformed_otlp", f"The body is not an OTLP protobuf trace export: {exc}."
            ) from exc
        return message
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DomainError("malformed_otlp", f"The body is not JSON: {exc}.") from exc
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError, RecursionError) as exc:
        raise DomainError("malformed_otlp", f"The body is not an OTLP JSON trace export: {exc}.") from exc
    return message


def _hex_ids_to_base64(node, depth: int = 0):
    if depth > 64:
        raise DomainError("malformed_otlp", "The JSON body is nested deeper than 64 levels.")
    if isinstance(node, list):
        return [_hex_ids_to_base64(item, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _ID_FIELDS and isinstance(value, str):
            try:
                value = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError as exc:
                raise DomainError("malformed_otlp", f"{key} {value[:40]!r} is not a hex id.") from exc
        else:
            value = _hex_ids_to_base64(value, depth + 1)
        out[key] = value
    return out


def response_body(encoding: str, *, rejected: int = 0, message: str = "") -> bytes:
    """An ``ExportTraceServiceResponse``, with ``partial_success`` when spans were refused."""
    answer = ExportTraceServiceResponse()
    if rejected or message:
        answer.partial_success.rejected_spans = rejected
        answer.partial_success.error_message = message
    if encoding == PROTOBUF:
        return answer.SerializeToString()
    return json_format.MessageToJson(answer, indent=None).encode()
