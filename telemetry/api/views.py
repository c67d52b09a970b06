"""OTLP/HTTP trace export: ``POST /api/v1/otel/v1/traces`` with an agent key.

So that ``OTEL_EXPORTER_OTLP_ENDPOINT=<base>/api/v1/otel`` works unchanged (exporters append
``/v1/traces``). The answer is an ``ExportTraceServiceResponse`` in the request's encoding; errors
are the product's error shape in JSON, with ``Retry-After`` on 429 and 503 so exporters back off.
"""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.views import APIView

from governance.permissions import AgentsOnly
from mission_control.errors import DomainError
from telemetry import otlp
from telemetry.services import ingest_spans
from telemetry.spans import records


class RawBody(BaseParser):
    """Documents the two encodings; the view reads the raw body itself (gzip, size, protobuf)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return None


class AnyAccept(BaseContentNegotiation):
    """The answer's encoding is the request's, whatever ``Accept`` says (errors are JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_EXPORT = {
    otlp.PROTOBUF: OpenApiTypes.BINARY,
    otlp.JSON: {
        "type": "object",
        "description": "An OTLP ExportTraceServiceRequest in OTLP's JSON encoding.",
    },
}
_ANSWER = {
    "type": "object",
    "description": "ExportTraceServiceResponse; partialSuccess names the spans refused and why.",
    "properties": {
        "partialSuccess": {
            "type": "object",
            "properties": {"rejectedSpans": {"type": "string"}, "errorMessage": {"type": "string"}},
        }
    },
}


class TraceExportView(APIView):
    """Take an OTLP trace export from an agent: each trace becomes one execution of its agent."""

    permission_classes = [AgentsOnly]
    parser_classes = [RawBody]
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="otel_traces_export",
        request=_EXPORT,
        responses={
            200: OpenApiResponse(
                response=_ANSWER, description="Booked; spans refused (if any) in partialSuccess."
            ),
            415: OpenApiResponse(description="Neither application/x-protobuf nor application/json."),
        },
        description=(
            "OTLP/HTTP traces (protobuf or JSON, optionally gzip). Each trace becomes one execution of "
            "the key's agent; see docs/api.md for the mapping."
        ),
    )
    def post(self, request):
        encoding = otlp.encoding_of(request.content_type)
        limit = settings.MC_MAX_OTLP_BYTES
        size = int(request.META.get("CONTENT_LENGTH") or 0)
        if size > limit:
            raise DomainError("payload_too_large", f"The body is {size} bytes; at most {limit} are accepted.")
        body = otlp.decompress(request.body, request.headers.get("Content-Encoding", ""), limit)
        if len(body) > limit:
            raise DomainError("payload_too_large", f"The body is over {limit} bytes; send smaller batches.")
        export = otlp.parse(body, encoding)
        outcome = ingest_spans(agent=request.user.agent, spans=records(export), actor=request.user)
        answer = otlp.response_body(encoding, rejected=outcome.rejected, message=outcome.message)
        return HttpResponse(answer, content_type=encoding)
