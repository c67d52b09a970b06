"""The ledger API. Views authenticate, authorise, call a service and shape the answer.

Agents report (``POST``, ``PATCH``, batch, logs) with their key and see their own executions;
people read their businesses' executions (viewer) and abort or replay them (operator).
"""

import time

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import MethodNotAllowed, NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from executions import services
from executions.api.batch_items import validate_reports
from executions.api.serializers import (
    BatchSerializer,
    ClaimSerializer,
    ExecutionLogSerializer,
    ExecutionSerializer,
    LogEntrySerializer,
    ReportSerializer,
    UpdateSerializer,
    body_hash,
    execution_body,
    log_entries,
)
from executions.export import CONTENT_TYPES, STREAMS, buffered
from executions.logs import MAX_ENTRIES, search_logs
from executions.models import Execution, ExecutionLog, LogKind, LogLevel
from executions.search import filter_executions
from executions.selectors import get_visible_execution, scoped_executions, with_effective_cost
from governance.access import is_agent, require_role, visible_businesses
from governance.permissions import AgentsOnly
from governance.roles import Role
from mission_control.api.errors import APIError
from mission_control.api.pagination import IdCursorPagination
from mission_control.gc_pause import collector_paused
from mission_control.params import param, parse_choices

MAX_BATCH = 1000


def limit(name: str) -> int:
    """The byte limit named by a view's ``max_body_setting`` (declared in settings)."""
    return getattr(settings, name)


class BodyLimit:
    """Answer 413 ``payload_too_large`` before parsing a body over ``max_body_bytes``."""

    max_body_setting = "MC_MAX_REPORT_BYTES"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in ("POST", "PATCH", "PUT"):
            return
        bound = limit(self.max_body_setting)
        try:
            size = int(request.META.get("CONTENT_LENGTH") or -1)
        except ValueError:
            size = -1
        if size < 0:  # no length given: measure what came
            size = len(request._request.body) if size < 0 and bound else 0
        if size > bound:
            raise APIError(
                413, "payload_too_large", f"The body is {size} bytes; at most {bound} are accepted."
            )


def _reject_delete(request):
    raise MethodNotAllowed(request.method, detail="Executions are never deleted or replaced.")


class ExecutionPagination(IdCursorPagination):
    page_size = 50


class LogPagination(IdCursorPagination):
    ordering = "seq"
    page_size = 200


@extend_schema(
    parameters=[
        OpenApiParameter(name, str)
        for name in (
            "business",
            "agent",
            "status",
            "trigger",
            "model",
            "provider",
            "since",
            "until",
            "cron_job",
            "workflow_run",
            "min_cost",
            "max_cost",
            "min_duration_ms",
            "max_duration_ms",
            "q",
        )
    ]
)
class ExecutionListView(BodyLimit, GenericAPIView):
    """Search the ledger (people: their businesses; agents: their own); agents report work."""

    pagination_class = ExecutionPagination
    serializer_class = ExecutionSerializer
    queryset = Execution.objects.none()  # for the schema; reads go through ``searched``

    def get_permissions(self):
        return [AgentsOnly()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(operation_id="executions_list", responses=ExecutionSerializer(many=True))
    def get(self, request):
        qs = searched(request)
        page = self.paginate_queryset(qs.select_related("business"))
        return self.get_paginated_response(ExecutionSerializer(page, many=True).data)

    @extend_schema(request=ReportSerializer, responses={201: ExecutionSerializer, 200: ExecutionSerializer})
    def post(self, request):
        data = ReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        execution, created = services.report_execution(
            agent=request.user.agent,
            data=data.validated_data,
            body_hash=body_hash(request.data),
            actor=request.user,
        )
        if not created:  # an earlier report's row, as it stands now (a cost correction, say)
            execution = get_visible_execution(request.user, execution.pk)
        # A new row is answered as written: nothing else can have touched it yet.
        body = execution_body(execution)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def searched(request):
    """The caller's executions filtered by the query string (404 for a business not theirs)."""
    slug = request.query_params.get("business")
    if (
        slug
        and not is_agent(request.user)
        and not request.user.is_superuser
        and not visible_businesses(request.user).filter(slug=slug).exists()
    ):
        raise NotFound()
    return filter_executions(with_effective_cost(scoped_executions(request.user)), request.query_params)


class BatchView(BodyLimit, APIView):
    """Many reports at once: ``207`` with a result per item; one bad item never sinks the rest."""

    permission_classes = [AgentsOnly]
    max_body_setting = "DATA_UPLOAD_MAX_MEMORY_SIZE"

    @extend_schema(
        request=BatchSerializer,
        responses={207: inline_serializer("BatchResults", {"results": serializers.ListField()})},
    )
    def post(self, request):
        # Everything allocated here (the parsed body included) lives until the answer: nothing to find.
        with collector_paused():
            raw = _batch_items(request.data)
            if len(raw) > MAX_BATCH:
                raise APIError(
                    413, "payload_too_large", f"A batch holds at most {MAX_BATCH} executions, not {len(raw)}."
                )
            valid, errors = validate_reports(raw, parsed_json=True)
            results = {
                index: {"index": index, "status": 400, "error": "validation_error", "fields": fields}
                for index, fields in errors.items()
            }
            if valid:
                results.update(
                    services.ingest_batch(agent=request.user.agent, items=valid, actor=request.user)
                )
        return Response({"results": [results[i] for i in range(len(raw))]}, status=207)


def _batch_items(body) -> list:
    """The body's items: a plain ``{"executions": [{...}, ...]}`` is taken as it is; any other shape
    goes through :class:`BatchSerializer`, which refuses it (or accepts it) and words the errors."""
    items = body.get("executions") if type(body) is dict and len(body) == 1 else None
    if type(items) is list and items and all(type(item) is dict for item in items):
        return items
    data = BatchSerializer(data=body)
    data.is_valid(raise_exception=True)
    return data.validated_data["executions"]


class ExecutionDetailView(BodyLimit, APIView):
    """Read one execution; an agent (or an operator) moves a live one on. Never deleted."""

    @extend_schema(responses=ExecutionSerializer)
    def get(self, request, pk: int):
        return Response(execution_body(get_visible_execution(request.user, pk)))

    @extend_schema(request=UpdateSerializer, responses=ExecutionSerializer)
    def patch(self, request, pk: int):
        execution = get_visible_execution(request.user, pk)
        if not is_agent(request.user):
            require_role(request.user, execution.business_id, Role.OPERATOR)
        data = UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.update_execution(execution=execution, data=data.validated_data, actor=request.user)
        return Response(execution_body(get_visible_execution(request.user, pk)))

    @extend_schema(exclude=True)
    def put(self, request, pk: int):
        _reject_delete(request)

    @extend_schema(exclude=True)
    def delete(self, request, pk: int):
        _reject_delete(request)


@extend_schema(
    parameters=[OpenApiParameter("level", str), OpenApiParameter("kind", str), OpenApiParameter("q", str)]
)
class ExecutionLogsView(BodyLimit, GenericAPIView):
    """Structured log entries, oldest first; agents (or operators) append more."""

    pagination_class = LogPagination
    serializer_class = ExecutionLogSerializer
    queryset = ExecutionLog.objects.none()  # for the schema; reads go through the execution
    max_body_setting = "MC_MAX_LOG_BYTES"

    @extend_schema(operation_id="executions_logs_list", responses=ExecutionLogSerializer(many=True))
    def get(self, request, pk: int):
        execution = get_visible_execution(request.user, pk)
        params = request.query_params
        qs = search_logs(
            execution.logs.all(),
            level=",".join(param(params, "level", parse_choices, choices=LogLevel.values)),
            kind=",".join(param(params, "kind", parse_choices, choices=LogKind.values)),
            q=params.get("q", ""),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ExecutionLogSerializer(page, many=True).data)

    @extend_schema(request=LogEntrySerializer(many=True), responses={201: ExecutionLogSerializer(many=True)})
    def post(self, request, pk: int):
        execution = get_visible_execution(request.user, pk)
        if not is_agent(request.user):
            require_role(request.user, execution.business_id, Role.OPERATOR)
        if isinstance(request.data, list) and len(request.data) > MAX_ENTRIES:
            raise APIError(413, "payload_too_large", f"At most {MAX_ENTRIES} entries per request.")
        entries = log_entries(data=request.data)
        entries.is_valid(raise_exception=True)
        rows = services.append_logs(execution=execution, entries=entries.validated_data)
        return Response(ExecutionLogSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)


class AbortView(APIView):
    """Operators abort: pending at once, running through the agent (then forcibly)."""

    @extend_schema(
        request=inline_serializer("AbortRequest", {"reason": serializers.CharField(required=False)}),
        responses={202: ExecutionSerializer},
    )
    def post(self, request, pk: int):
        execution = get_visible_execution(request.user, pk)
        require_role(request.user, execution.business_id, Role.OPERATOR)
        reason = request.data.get("reason", "") if isinstance(request.data, dict) else ""
        if not isinstance(reason, str):
            raise ValidationError({"reason": ["Must be a string."]})
        services.abort_execution(execution=execution, actor=request.user, reason=reason[:1000])
        return Response(ExecutionSerializer(get_visible_execution(request.user, pk)).data, status=202)


class ReplayView(APIView):
    """Operators replay a failed or aborted execution: a new one, same input, linked."""

    @extend_schema(request=None, responses={201: ExecutionSerializer})
    def post(self, request, pk: int):
        execution = get_visible_execution(request.user, pk)
        require_role(request.user, execution.business_id, Role.OPERATOR)
        replay = services.replay_execution(execution=execution, actor=request.user)
        return Response(ExecutionSerializer(get_visible_execution(request.user, replay.pk)).data, status=201)


class IgnoreFormatNegotiation(BaseContentNegotiation):
    """``?format=csv|jsonl`` picks the export's format, not a DRF renderer."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema(parameters=[OpenApiParameter("format", str, enum=list(STREAMS))], responses={200: None})
class ExportView(APIView):
    """Stream every matching execution as CSV or JSON Lines, in constant memory."""

    content_negotiation_class = IgnoreFormatNegotiation

    def get(self, request):
        fmt = request.query_params.get("format", "csv")
        if fmt not in STREAMS:
            raise ValidationError({"format": [f"One of: {', '.join(STREAMS)}."]})
        qs = searched(request).select_related(None)
        response = StreamingHttpResponse(buffered(STREAMS[fmt](qs)), content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="executions.{fmt}"'
        return response


class ClaimView(APIView):
    """A pull agent takes its next pending execution (now running), waiting up to 30 s for one."""

    permission_classes = [AgentsOnly]
    mc_long_poll = True  # under daphne, served by mission_control.long_poll: waits hold no request

    @extend_schema(request=ClaimSerializer, responses={200: ExecutionSerializer, 204: None})
    def post(self, request):
        data = ClaimSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        agent_id, claim_id = request.user.agent_id, data.validated_data.get("claim_id")  # no agent row
        if getattr(request, "mc_can_wait", False):
            # Served by mission_control.long_poll: the wait happens on its event loop, not in this thread.
            waited = getattr(request, "mc_waited", None)
            deadline = waited.deadline if waited else time.monotonic() + data.validated_data["wait_seconds"]
            execution = services.claim_or_wait(agent_id=agent_id, deadline=deadline, claim_id=claim_id)
            if isinstance(execution, services.ClaimWait):
                response = Response(status=status.HTTP_204_NO_CONTENT)
                response.mc_wait = execution  # sent as it is if nothing comes
                return response
        else:
            execution = services.claim(
                agent_id=agent_id, wait_seconds=data.validated_data["wait_seconds"], claim_id=claim_id
            )
        if execution is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(execution_body(execution))  # the agent's own row, as claimed: no second read


class HookView(BodyLimit, APIView):
    """The webhook trigger: the secret URL itself is the credential. Body: the run's input."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    max_body_setting = "MC_MAX_HOOK_BYTES"

    @extend_schema(
        request=inline_serializer("HookInput", {}),
        responses={202: inline_serializer("HookAccepted", {"id": serializers.IntegerField()})},
    )
    def post(self, request, token: str):
        payload = request.data if request.data not in (None, "") else {}
        if not isinstance(payload, dict):
            raise ValidationError({"input": ["The body must be a JSON object."]})
        execution = services.run_hook(token=token, input=dict(payload))
        return Response(
            {"id": execution.pk, "status": execution.status, "trigger": execution.trigger}, status=202
        )
