"""OTLP spans as plain records, and what each means under the OpenTelemetry GenAI conventions.

A span becomes a :class:`SpanRecord` (ids in hex, times as datetimes, attributes as JSON values);
:func:`usage_of` reads an inference span's model, provider and tokens (the current attribute names
and the older ones); :func:`log_entries` turns a span into the ledger's log entries, keeping every
attribute, known or not.
"""

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

INFERENCE = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
TOOL = "execute_tool"
AGENT = "invoke_agent"
# Span flags (OTLP 1.x): the parent span lives in another process, so this one is a local root.
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
STATUS_ERROR = 2
MAX_TEXT = 20_000  # characters of a captured message kept in a log entry's message

# gen_ai.provider.name values whose genai-prices provider id differs.
PROVIDERS = {
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "x_ai": "x-ai",
    "mistral_ai": "mistral",
}
# Older per-message span events, and whether each is prompt or completion.
MESSAGE_EVENTS = {
    "gen_ai.system.message": "prompt",
    "gen_ai.user.message": "prompt",
    "gen_ai.assistant.message": "prompt",
    "gen_ai.tool.message": "prompt",
    "gen_ai.choice": "completion",
}


@dataclass
class SpanRecord:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start: datetime | None
    end: datetime | None
    status_code: int
    status_message: str
    attributes: dict
    events: list[dict] = field(default_factory=list)
    resource: dict = field(default_factory=dict)
    scope: str = ""
    remote_parent: bool = False

    @property
    def is_root(self) -> bool:
        return not self.parent_span_id or self.remote_parent

    @property
    def operation(self) -> str:
        op = self.attributes.get("gen_ai.operation.name")
        if isinstance(op, str) and op:
            return op
        return self.name.split(" ", 1)[0] if self.name else ""

    @property
    def failed(self) -> bool:
        return self.status_code == STATUS_ERROR or bool(self.attributes.get("error.type"))


def value_of(any_value):
    """An OTLP ``AnyValue`` as JSON (bytes as base64; NaN and infinities as text)."""
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value_of(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(any_value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(any_value.bytes_value).decode()
    value = getattr(any_value, kind)
    if kind == "double_value" and not math.isfinite(value):
        return str(value)
    if kind == "string_value":
        return value.replace("\x00", "")  # PostgreSQL cannot store NUL in text or jsonb
    return value


def attributes_of(key_values) -> dict:
    return {kv.key.replace("\x00", ""): value_of(kv.value) for kv in key_values}


def _time(nanos: int) -> datetime | None:
    if not nanos:
        return None
    try:
        return datetime.fromtimestamp(nanos / 1e9, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def records(request) -> list[SpanRecord]:
    """Every span of an ``ExportTraceServiceRequest``, each once (a repeated span id is dropped)."""
    out: dict[tuple[str, str], SpanRecord] = {}
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                record = SpanRecord(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    name=span.name.replace("\x00", ""),
                    start=_time(span.start_time_unix_nano),
                    end=_time(span.end_time_unix_nano),
                    status_code=span.status.code,
                    status_message=span.status.message.replace("\x00", ""),
                    attributes=attributes_of(span.attributes),
                    events=[
                        {
                            "name": e.name,
                            "ts": _time(e.time_unix_nano),
                            "attributes": attributes_of(e.attributes),
                        }
                        for e in span.events
                    ],
                    resource=resource,
                    scope=scope_spans.scope.name,
                    remote_parent=bool(span.flags & _HAS_IS_REMOTE and span.flags & _IS_REMOTE),
                )
                out.setdefault((record.trace_id, record.span_id), record)
    return list(out.values())


def invalid(span: SpanRecord) -> str:
    """Why a span cannot be booked, or ``""``."""
    if len(span.trace_id) != 32 or span.trace_id == "0" * 32:
        return "a span without a valid trace id"
    if len(span.span_id) != 16 or span.span_id == "0" * 16:
        return "a span without a valid span id"
    if span.start is None or span.end is None or span.end < span.start:
        return f"span {span.span_id} has no valid start and end time"
    return ""


def _int(value) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def _first(attrs: dict, *names):
    for name in names:
        value = attrs.get(name)
        if value not in (None, ""):
            return value
    return None


@dataclass(frozen=True)
class Usage:
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int


def usage_of(span: SpanRecord) -> Usage | None:
    """An inference span's model, provider and tokens; None for any other span."""
    if span.operation not in INFERENCE:
        return None
    a = span.attributes
    model = str(_first(a, "gen_ai.response.model", "gen_ai.request.model") or "")[:120]
    provider = str(_first(a, "gen_ai.provider.name", "gen_ai.system") or "")[:60]
    tokens_in = _int(_first(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"))
    tokens_out = _int(_first(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"))
    cached = _int(
        _first(
            a,
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens",
            "gen_ai.usage.details.cache_read_tokens",
        )
    )
    # The conventions count cache reads inside the input tokens, as the ledger does.
    return Usage(model, provider, tokens_in, tokens_out, min(cached, tokens_in))


def price_provider(provider: str) -> str:
    return PROVIDERS.get(provider, provider)


def _messages(value):
    """Captured messages arrive as a JSON string (span attributes are flat) or as a list."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(messages) -> str:
    """The readable text of captured messages, for the log entry's message (full-text search)."""
    if isinstance(messages, str):
        return messages[:MAX_TEXT]
    parts = []
    for message in messages if isinstance(messages, list) else [messages]:
        if not isinstance(message, dict):
            parts.append(str(message))
            continue
        role = message.get("role", "")
        pieces = message.get("parts")
        if isinstance(pieces, list):
            for part in pieces:
                if isinstance(part, dict):
                    content = part.get("content") or part.get("result") or part.get("response")
                    if content is None and part.get("name"):
                        content = f"{part['name']}({json.dumps(part.get('arguments'), default=str)})"
                    parts.append(f"{role}: {content if isinstance(content, str) else json.dumps(content)}")
        elif message.get("content") is not None:
            content = message["content"]
            parts.append(
                f"{role}: {content if isinstance(content, str) else json.dumps(content, default=str)}"
            )
    return "\n".join(parts)[:MAX_TEXT]


def _indexed(attrs: dict, prefix: str) -> list[dict]:
    """OpenLLMetry's flat ``gen_ai.prompt.0.role`` / ``gen_ai.prompt.0.content`` attributes."""
    found: dict[int, dict] = {}
    for key, value in attrs.items():
        if key.startswith(prefix):
            index, _, name = key[len(prefix) :].partition(".")
            if index.isdigit() and name:
                found.setdefault(int(index), {})[name] = value
    return [found[i] for i in sorted(found)]


def conversation(span: SpanRecord) -> list[tuple[str, object, datetime | None]]:
    """``[(kind, messages, ts)]`` captured on the span: prompt and completion, whichever convention."""
    a = span.attributes
    out = []
    if a.get("gen_ai.input.messages") is not None:
        out.append(("prompt", _messages(a["gen_ai.input.messages"]), span.start))
    elif prompt := _indexed(a, "gen_ai.prompt."):
        out.append(("prompt", prompt, span.start))
    if a.get("gen_ai.output.messages") is not None:
        out.append(("completion", _messages(a["gen_ai.output.messages"]), span.end))
    elif completion := _indexed(a, "gen_ai.completion."):
        out.append(("completion", completion, span.end))
    for event in span.events:
        kind = MESSAGE_EVENTS.get(event["name"])
        if kind:
            message = dict(event["attributes"])
            message.setdefault("role", event["name"].split(".")[1])
            out.append((kind, [message], event["ts"] or span.start))
    return out


# Captured messages live in the span's prompt and completion entries; kept once, not twice.
MESSAGE_ATTRIBUTES = frozenset({"gen_ai.input.messages", "gen_ai.output.messages"})


def span_data(span: SpanRecord) -> dict:
    """Everything the span said, unknown attributes included, for its log entry (captured
    messages go to their own prompt and completion entries)."""
    data = {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id or None,
        "name": span.name,
        "operation": span.operation,
        "start": span.start.isoformat() if span.start else None,
        "end": span.end.isoformat() if span.end else None,
        "duration_ms": _ms(span),
        "status": {0: "unset", 1: "ok", 2: "error"}.get(span.status_code, str(span.status_code)),
        "attributes": {k: v for k, v in span.attributes.items() if k not in MESSAGE_ATTRIBUTES},
    }
    if span.status_message:
        data["status_message"] = span.status_message
    other = [
        {**e, "ts": e["ts"].isoformat() if e["ts"] else None}
        for e in span.events
        if e["name"] not in MESSAGE_EVENTS
    ]
    if other:
        data["events"] = other
    return data


def _ms(span: SpanRecord) -> int | None:
    if span.start is None or span.end is None:
        return None
    return max(0, int((span.end - span.start).total_seconds() * 1000))


def log_entries(span: SpanRecord, cost: str | None) -> list[dict]:
    """The log entries of one span, each with a ``client_id`` derived from the span id, so the
    same span sent again adds nothing (the ledger's unique ``(execution, client_id)``)."""
    data = span_data(span)
    level = "error" if span.failed else "info"
    usage = usage_of(span)
    if usage is not None:
        data["usage"] = {
            "model": usage.model,
            "provider": usage.provider,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cost_usd": cost,
        }
        message = f"{span.name}: {usage.input_tokens} in / {usage.output_tokens} out tokens"
        entries = [_entry(span.span_id, span.start, level, "api_call", message, data)]
    elif span.operation == TOOL:
        tool = span.attributes.get("gen_ai.tool.name") or span.name
        entries = [_entry(span.span_id, span.start, level, "tool_call", f"tool {tool}", data)]
    else:
        entries = [_entry(span.span_id, span.start, level, "log", span.name or "span", data)]
    for n, (kind, messages, ts) in enumerate(conversation(span), start=1):
        entries.append(
            _entry(
                f"{span.span_id}:{n}",
                ts,
                "info",
                kind,
                _text(messages),
                {"span_id": span.span_id, "messages": messages},
            )
        )
    return entries


def _entry(client_id: str, ts, level: str, kind: str, message: str, data: dict) -> dict:
    return {"client_id": client_id, "ts": ts, "level": level, "kind": kind, "message": message, "data": data}
