"""Cron jobs over HTTP. Viewers read; admins create, change and delete; operators run-now, pause
and resume. Agent keys get 403 here."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from executions.retry_policy import validate_retry_policy
from governance.access import get_business
from governance.permissions import PeopleOnly
from governance.roles import Role
from mission_control.api.serializers import StrictSerializer
from mission_control.params import param, parse_choice, parse_moment
from workflows import cron, cron_firing, schedules, selectors
from workflows.api.common import execution_body, flag
from workflows.models import CronJob, CronRun, CronRunStatus, Overlap, Workflow

CALENDAR_MAX_DAYS = 31


class CronJobSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug", read_only=True)
    agent = serializers.IntegerField(source="agent_id", read_only=True, allow_null=True)
    workflow = serializers.IntegerField(source="workflow_id", read_only=True, allow_null=True)
    capability = serializers.CharField(read_only=True, help_text="Empty unless the job routes by capability.")
    schedule_description = serializers.CharField(source="describe", read_only=True)
    state = serializers.SerializerMethodField(help_text="active, paused, or held (by an emergency stop).")
    next_run_at = serializers.SerializerMethodField()
    success_rate = serializers.FloatField(
        read_only=True, allow_null=True, help_text="0 to 1 over finished runs."
    )
    avg_duration_ms = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = CronJob
        fields = [
            "id",
            "business",
            "name",
            "description",
            "schedule",
            "schedule_description",
            "timezone",
            "agent",
            "workflow",
            "capability",
            "input",
            "enabled",
            "held_by_stop",
            "state",
            "overlap",
            "grace_seconds",
            "max_runtime_s",
            "retry_policy",
            "failure_alert_after",
            "next_run_at",
            "last_run_at",
            "last_status",
            "success_rate",
            "consecutive_failures",
            "avg_duration_ms",
            "runs_finished",
            "runs_succeeded",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_state(self, job: CronJob) -> str:
        return "held" if job.held_by_stop else ("active" if job.enabled else "paused")

    def get_next_run_at(self, job: CronJob) -> str | None:
        moment = job.next_run_at(self.context.get("now"))
        return moment.isoformat() if moment else None


class CronRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = CronRun
        fields = [
            "id",
            "cron_job",
            "scheduled_for",
            "manual",
            "status",
            "reason",
            "detail",
            "execution",
            "workflow_run",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = fields


class _CronJobFields(StrictSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(allow_blank=True, required=False)
    schedule = serializers.CharField(max_length=120, help_text="5-field cron expression, e.g. '0 9 * * 1-5'.")
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA zone; default UTC.")
    agent = serializers.IntegerField(required=False, allow_null=True)
    workflow = serializers.IntegerField(required=False, allow_null=True)
    capability = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="Instead of agent or workflow: routed at each run.",
    )
    input = serializers.JSONField(required=False)
    enabled = serializers.BooleanField(required=False)
    overlap = serializers.ChoiceField(choices=Overlap.choices, required=False)
    grace_seconds = serializers.IntegerField(min_value=0, max_value=86400, required=False)
    max_runtime_s = serializers.IntegerField(
        min_value=1, max_value=7 * 86400, required=False, allow_null=True
    )
    retry_policy = serializers.JSONField(required=False, allow_null=True)
    failure_alert_after = serializers.IntegerField(min_value=0, max_value=1000, required=False)

    def validate_schedule(self, value: str) -> str:
        try:
            schedules.validate_expression(value)
        except schedules.ScheduleError as exc:
            raise ValidationError(exc.message) from None
        return " ".join(value.split())

    def validate_timezone(self, value: str) -> str:
        try:
            schedules.validate_timezone(value)
        except schedules.ScheduleError as exc:
            raise ValidationError(exc.message) from None
        return value

    def validate_input(self, value):
        if not isinstance(value, dict):
            raise ValidationError("Must be a JSON object.")
        return value

    def validate_retry_policy(self, value):
        return validate_retry_policy(value)


class CronJobCreateSerializer(_CronJobFields):
    business = serializers.SlugField(help_text="business slug")


class CronJobUpdateSerializer(_CronJobFields):
    pass


def _resolve_targets(business_id: int, fields: dict) -> dict:
    """Turn agent / workflow ids into rows of the same business (else 400 naming the field)."""
    if fields.get("agent") is not None:
        agent = Agent.objects.filter(pk=fields["agent"], business_id=business_id).first()
        if agent is None:
            raise ValidationError({"agent": ["No such agent in this business."]})
        fields["agent"] = agent
    if fields.get("workflow") is not None:
        workflow = Workflow.objects.filter(pk=fields["workflow"], business_id=business_id).first()
        if workflow is None:
            raise ValidationError({"workflow": ["No such workflow in this business."]})
        fields["workflow"] = workflow
    return fields


def _job_body(job: CronJob) -> dict:
    return CronJobSerializer(job, context={"now": timezone.now()}).data


@extend_schema(
    parameters=[
        OpenApiParameter("business", str, description="business slug"),
        OpenApiParameter("enabled", bool),
        OpenApiParameter("agent", int),
    ]
)
class CronJobListView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = CronJobSerializer

    @extend_schema(operation_id="v1_cron_jobs_list")
    def get(self, request):
        params = request.query_params
        jobs = selectors.cron_jobs(
            user=request.user,
            business=params.get("business") or None,
            enabled=flag(params, "enabled"),
            agent=param(params, "agent"),
        )
        page = self.paginate_queryset(jobs)
        return self.get_paginated_response(
            CronJobSerializer(page, many=True, context={"now": timezone.now()}).data
        )

    @extend_schema(request=CronJobCreateSerializer, responses={201: CronJobSerializer})
    def post(self, request):
        data = CronJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        business = get_business(request.user, fields.pop("business"), Role.ADMIN)
        fields = _resolve_targets(business.pk, fields)
        job = cron.create_job(business=business, actor=request.user, **fields)
        return Response(_job_body(job), status=status.HTTP_201_CREATED)


class CronJobDetailView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(responses=CronJobSerializer)
    def get(self, request, pk: int):
        return Response(_job_body(selectors.get_cron_job(user=request.user, pk=pk)))

    @extend_schema(request=CronJobUpdateSerializer, responses=CronJobSerializer)
    def patch(self, request, pk: int):
        job = selectors.get_cron_job(user=request.user, pk=pk, role=Role.ADMIN)
        data = CronJobUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = _resolve_targets(job.business_id, dict(data.validated_data))
        job = cron.update_job(job=job, actor=request.user, **fields)
        return Response(_job_body(job))

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        job = selectors.get_cron_job(user=request.user, pk=pk, role=Role.ADMIN)
        cron.delete_job(job=job, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CronJobRunNowView(APIView):
    """202 with the execution started (``trigger: "cron"``), or with the workflow run for a
    workflow job. 423/402/403 when governance refuses, 409 ``run_active`` under overlap."""

    permission_classes = [PeopleOnly]

    @extend_schema(request=None, responses={202: dict})
    def post(self, request, pk: int):
        job = selectors.get_cron_job(user=request.user, pk=pk, role=Role.OPERATOR)
        run = cron_firing.run_now(job=job, actor=request.user)
        if run.execution is not None:
            body = {**execution_body(run.execution), "cron_run": run.pk}
        else:
            body = {
                "workflow_run": run.workflow_run_id,
                "status": run.workflow_run.status,
                "cron_run": run.pk,
            }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class _ToggleView(APIView):
    permission_classes = [PeopleOnly]
    action = ""

    @extend_schema(request=None, responses=CronJobSerializer)
    def post(self, request, pk: int):
        job = selectors.get_cron_job(user=request.user, pk=pk, role=Role.OPERATOR)
        job = getattr(cron, f"{self.action}_job")(job=job, actor=request.user)
        return Response(_job_body(job))


class CronJobPauseView(_ToggleView):
    action = "pause"


class CronJobResumeView(_ToggleView):
    action = "resume"


@extend_schema(parameters=[OpenApiParameter("status", str)])
class CronJobRunsView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = CronRunSerializer

    def get(self, request, pk: int):
        job = selectors.get_cron_job(user=request.user, pk=pk)
        status = param(request.query_params, "status", parse_choice, choices=CronRunStatus.values)
        runs = selectors.cron_runs(job=job, status=status)
        self.paginator.ordering = "-scheduled_for"
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(CronRunSerializer(page, many=True).data)


def _moment(params, name: str, default):
    value = param(params, name, parse_moment)
    return default if value is None else value


@extend_schema(
    parameters=[
        OpenApiParameter("business", str, description="business slug"),
        OpenApiParameter("start", str, description="ISO 8601 (default: now)"),
        OpenApiParameter(
            "end", str, description=f"ISO 8601 (default: start + 7 days; at most {CALENDAR_MAX_DAYS} days)"
        ),
    ],
    responses={200: dict},
)
class CronCalendarView(APIView):
    """Runs that happened (status from their rows) and runs to come (from each schedule)."""

    permission_classes = [PeopleOnly]

    def get(self, request):
        params = request.query_params
        start = _moment(params, "start", timezone.now())
        end = _moment(params, "end", start + timedelta(days=7))
        if end <= start:
            raise ValidationError({"end": ["Must be after start."]})
        if end - start > timedelta(days=CALENDAR_MAX_DAYS):
            raise ValidationError({"end": [f"The range is at most {CALENDAR_MAX_DAYS} days."]})
        entries, truncated = selectors.calendar(
            user=request.user, business=params.get("business") or None, start=start, end=end
        )
        for entry in entries:
            entry["at"] = entry["at"].isoformat()
        return Response(
            {"start": start.isoformat(), "end": end.isoformat(), "results": entries, "truncated": truncated}
        )
