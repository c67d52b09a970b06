"""Hand-built OTLP trace exports (the encodings and conventions the SDK does not cover)."""

import base64
import gzip
import json
import os
import time

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


def trace_id() -> bytes:
    return os.urandom(16)


def span_id() -> bytes:
    return os.urandom(8)


def _value(v) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


def span(
    trace: bytes,
    name: str,
    *,
    parent: bytes = b"",
    sid: bytes | None = None,
    start_s: float = 0,
    duration_s: float = 1,
    error: str = "",
    events=(),
    **attributes,
) -> Span:
    now = int(time.time() * 1e9)
    start = now - int(10e9) + int(start_s * 1e9)
    message = Span(
        trace_id=trace,
        span_id=sid or span_id(),
        parent_span_id=parent,
        name=name,
        start_time_unix_nano=start,
        end_time_unix_nano=start + int(duration_s * 1e9),
        attributes=[KeyValue(key=k.replace("__", "."), value=_value(v)) for k, v in attributes.items()],
        status=Status(code=Status.STATUS_CODE_ERROR, message=error) if error else Status(),
    )
    for event_name, event_attributes in events:
        message.events.add(
            name=event_name,
            time_unix_nano=start,
            attributes=[KeyValue(key=k, value=_value(v)) for k, v in event_attributes.items()],
        )
    return message


def export(*spans: Span, service: str = "billing-agent") -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "hand-made"
    scope.spans.extend(spans)
    return request


def as_protobuf(request: ExportTraceServiceRequest) -> bytes:
    return request.SerializeToString()


def as_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP's JSON encoding: protobuf's JSON mapping with hex trace and span ids."""
    document = json_format.MessageToDict(request)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for s in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        s[key] = base64.b64decode(s[key]).hex()
    return json.dumps(document).encode()


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body)


def chat(
    trace: bytes, parent: bytes, *, model="gpt-4o", provider="openai", tokens=(100, 20), start_s=1, **more
):
    return span(
        trace,
        f"chat {model}",
        parent=parent,
        start_s=start_s,
        gen_ai__operation__name="chat",
        gen_ai__request__model=model,
        gen_ai__provider__name=provider,
        gen_ai__usage__input_tokens=tokens[0],
        gen_ai__usage__output_tokens=tokens[1],
        **more,
    )
