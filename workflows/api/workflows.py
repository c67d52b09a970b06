"""Workflows and their runs over HTTP. Viewers read; admins define workflows and their webhook;
operators start, cancel and re-run runs. A webhook token starts runs without an account."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access import get_business
from governance.permissions import PeopleOnly
from governance.roles import Role
from mission_control.api.serializers import StrictSerializer
from mission_control.params import param, parse_choice
from mission_control.secrets import hash_secret
from workflows import definitions, runs, selectors
from workflows.models import RunStatus, RunTrigger, StepRun, Workflow, WorkflowRun, WorkflowVersion


class WorkflowSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug", read_only=True)
    version = serializers.IntegerField(source="current_version.number", read_only=True, allow_null=True)
    definition = serializers.JSONField(read_only=True)
    webhook_token_prefix = serializers.CharField(read_only=True, help_text="Empty when no webhook is set up.")

    class Meta:
        model = Workflow
        fields = ["id", "business", "name", "description", "version", "definition", "webhook_token_prefix"]
        fields += ["created_by", "created_at", "updated_at"]
        read_only_fields = fields


class WorkflowWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(allow_blank=True, required=False)
    definition = serializers.JSONField(help_text='{"steps": [...]}, see the API contract.')


class WorkflowCreateSerializer(WorkflowWriteSerializer):
    business = serializers.SlugField()


class WorkflowVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkflowVersion
        fields = ["id", "number", "definition", "created_by", "created_at"]
        read_only_fields = fields


class StepRunSerializer(serializers.ModelSerializer):
    step = serializers.CharField(source="step_id", read_only=True)
    agent = serializers.IntegerField(source="agent_id", read_only=True, allow_null=True)

    class Meta:
        model = StepRun
        fields = ["step", "status", "execution", "attempt", "agent", "output", "error", "reused"]
        fields += ["next_attempt_at", "deadline_at", "started_at", "finished_at"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    cron_job = serializers.IntegerField(source="cron_job_id", read_only=True, allow_null=True)
    steps = StepRunSerializer(many=True, read_only=True)

    class Meta:
        model = WorkflowRun
        fields = ["id", "workflow", "business", "version", "status", "trigger", "input", "output", "error"]
        fields += ["rerun_of", "cron_job", "requested_by", "created_at", "started_at", "finished_at", "steps"]
        read_only_fields = fields


class RunCreateSerializer(StrictSerializer):
    input = serializers.JSONField(required=False)

    def validate_input(self, value):
        if not isinstance(value, dict):
            raise ValidationError("Must be a JSON object.")
        return value


def _run_body(run_id: int, user) -> dict:
    return RunSerializer(selectors.get_workflow_run(user=user, pk=run_id)).data


@extend_schema(parameters=[OpenApiParameter("business", str)])
class WorkflowListView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = WorkflowSerializer

    @extend_schema(operation_id="v1_workflows_list")
    def get(self, request):
        page = self.paginate_queryset(
            selectors.workflows(user=request.user, business=request.query_params.get("business"))
        )
        return self.get_paginated_response(WorkflowSerializer(page, many=True).data)

    @extend_schema(request=WorkflowCreateSerializer, responses={201: WorkflowSerializer})
    def post(self, request):
        data = WorkflowCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        business = get_business(request.user, fields.pop("business"), Role.ADMIN)
        workflow = definitions.create_workflow(business=business, actor=request.user, **fields)
        return Response(
            WorkflowSerializer(selectors.get_workflow(user=request.user, pk=workflow.pk)).data, status=201
        )


class WorkflowDetailView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(responses=WorkflowSerializer)
    def get(self, request, pk: int):
        return Response(WorkflowSerializer(selectors.get_workflow(user=request.user, pk=pk)).data)

    @extend_schema(request=WorkflowWriteSerializer, responses=WorkflowSerializer)
    def patch(self, request, pk: int):
        workflow = selectors.get_workflow(user=request.user, pk=pk, role=Role.ADMIN)
        data = WorkflowWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        definitions.update_workflow(workflow=workflow, actor=request.user, **data.validated_data)
        return Response(WorkflowSerializer(selectors.get_workflow(user=request.user, pk=pk)).data)


class WorkflowVersionsView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = WorkflowVersionSerializer

    def get(self, request, pk: int):
        workflow = selectors.get_workflow(user=request.user, pk=pk)
        page = self.paginate_queryset(workflow.versions.all())
        return self.get_paginated_response(WorkflowVersionSerializer(page, many=True).data)


class WorkflowRunsView(GenericAPIView):
    """GET: this workflow's runs, newest first. POST ``{"input": {...}}`` -> 201, the run."""

    permission_classes = [PeopleOnly]
    serializer_class = RunSerializer

    def get(self, request, pk: int):
        workflow = selectors.get_workflow(user=request.user, pk=pk)
        page = self.paginate_queryset(selectors.workflow_runs(user=request.user, workflow_id=workflow.pk))
        return self.get_paginated_response(RunSerializer(page, many=True).data)

    @extend_schema(request=RunCreateSerializer, responses={201: RunSerializer})
    def post(self, request, pk: int):
        workflow = selectors.get_workflow(user=request.user, pk=pk, role=Role.OPERATOR)
        data = RunCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = runs.start_run(
            workflow=workflow, input=data.validated_data.get("input", {}), actor=request.user
        )
        return Response(_run_body(run.pk, request.user), status=status.HTTP_201_CREATED)


class WorkflowWebhookView(APIView):
    """POST -> 201 ``{"token", "url"}``: a new webhook token (shown once; the old one stops working)."""

    permission_classes = [PeopleOnly]

    @extend_schema(request=None, responses={201: dict})
    def post(self, request, pk: int):
        workflow = selectors.get_workflow(user=request.user, pk=pk, role=Role.ADMIN)
        token = definitions.rotate_webhook_token(workflow=workflow, actor=request.user)
        url = request.build_absolute_uri(f"/api/v1/hooks/workflows/{token}")
        return Response({"token": token, "url": url}, status=status.HTTP_201_CREATED)


class WebhookTriggerView(APIView):
    """POST with the webhook token in the path; the JSON body (an object) is the run's input."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=dict, responses={202: dict})
    def post(self, request, token: str):
        workflow = (
            Workflow.objects.select_related("business", "current_version")
            .filter(webhook_token_hash=hash_secret(token))
            .exclude(webhook_token_hash="")
            .first()
        )
        if workflow is None:
            raise NotFound()
        body = request.data if request.data else {}
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        run = runs.start_run(workflow=workflow, input=body, trigger=RunTrigger.WEBHOOK, actor="webhook")
        return Response(
            {"id": run.pk, "workflow": workflow.pk, "status": run.status}, status=status.HTTP_202_ACCEPTED
        )


@extend_schema(
    parameters=[
        OpenApiParameter("business", str),
        OpenApiParameter("workflow", int),
        OpenApiParameter("status", str, enum=RunStatus.values),
    ]
)
class WorkflowRunListView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = RunSerializer

    @extend_schema(operation_id="v1_workflow_runs_list")
    def get(self, request):
        params = request.query_params
        qs = selectors.workflow_runs(
            user=request.user,
            business=params.get("business") or None,
            workflow_id=param(params, "workflow"),
            status=param(params, "status", parse_choice, choices=RunStatus.values),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(RunSerializer(page, many=True).data)


class WorkflowRunDetailView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(responses=RunSerializer)
    def get(self, request, pk: int):
        return Response(_run_body(pk, request.user))


class WorkflowRunCancelView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(request=None, responses={202: RunSerializer})
    def post(self, request, pk: int):
        run = selectors.get_workflow_run(user=request.user, pk=pk, role=Role.OPERATOR)
        runs.cancel_run(run=run, actor=request.user)
        return Response(_run_body(pk, request.user), status=status.HTTP_202_ACCEPTED)


class WorkflowRunRerunView(APIView):
    """POST -> 201, a new run from the failed steps (succeeded steps keep their outputs)."""

    permission_classes = [PeopleOnly]

    @extend_schema(request=None, responses={201: RunSerializer})
    def post(self, request, pk: int):
        run = selectors.get_workflow_run(user=request.user, pk=pk, role=Role.OPERATOR)
        new = runs.rerun(run=run, actor=request.user)
        return Response(_run_body(new.pk, request.user), status=status.HTTP_201_CREATED)
