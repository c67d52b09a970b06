"""Epics and tasks over HTTP. Viewers read, operators edit. An agent key reads its business's
tasks, claims the next ready one, and updates (status, result, comments) the tasks it holds."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from board import selectors, services
from board.models import Epic, EpicStatus, Priority, Task, TaskComment, TaskStatus
from governance.access import get_business, is_agent
from governance.permissions import AgentsOnly, PeopleOnly
from governance.roles import Role
from mission_control.api.errors import APIError
from mission_control.api.serializers import StrictSerializer
from mission_control.params import param, parse_choice, parse_flag

PRIORITIES = {label: value for value, label in Priority.choices}


class EpicSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug", read_only=True)
    task_count = serializers.IntegerField(read_only=True, default=0)
    done_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Epic
        fields = ["id", "business", "title", "description", "status", "task_count", "done_count"]
        fields += ["created_by", "created_at", "updated_at"]
        read_only_fields = fields


class EpicWriteSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=EpicStatus.choices, required=False)


class EpicCreateSerializer(EpicWriteSerializer):
    business = serializers.SlugField()


class TaskSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug", read_only=True)
    epic = serializers.IntegerField(source="epic_id", read_only=True, allow_null=True)
    parent = serializers.IntegerField(source="parent_id", read_only=True, allow_null=True)
    assignee = serializers.IntegerField(source="assignee_id", read_only=True, allow_null=True)
    priority = serializers.CharField(source="get_priority_display", read_only=True)
    blocked_by = serializers.SerializerMethodField()
    blocks = serializers.SerializerMethodField()
    subtasks = serializers.SerializerMethodField()
    ready = serializers.SerializerMethodField(help_text="Waiting to be worked on, every blocker done.")

    class Meta:
        model = Task
        fields = [
            "id",
            "business",
            "epic",
            "parent",
            "title",
            "description",
            "status",
            "priority",
            "assignee",
        ]
        fields += ["required_capabilities", "blocked_by", "blocks", "subtasks", "ready", "result"]
        fields += ["created_by", "created_at", "updated_at", "claimed_at", "completed_at"]
        read_only_fields = fields

    def get_blocked_by(self, task) -> list[int]:
        return sorted(t.pk for t in task.blocked_by.all())

    def get_blocks(self, task) -> list[int]:
        return sorted(t.pk for t in task.blocks.all())

    def get_subtasks(self, task) -> list[int]:
        return sorted(t.pk for t in task.subtasks.all())

    def get_ready(self, task) -> bool:
        open_blockers = getattr(task, "has_open_blockers", None)
        if open_blockers is None:
            open_blockers = any(t.status != TaskStatus.DONE for t in task.blocked_by.all())
        return task.status in (TaskStatus.INBOX, TaskStatus.ASSIGNED) and not open_blockers


class TaskWriteSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    priority = serializers.ChoiceField(choices=list(PRIORITIES), required=False)
    epic = serializers.IntegerField(required=False, allow_null=True)
    parent = serializers.IntegerField(required=False, allow_null=True)
    assignee = serializers.IntegerField(required=False, allow_null=True)
    required_capabilities = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=50, required=False
    )
    blocked_by = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=200, required=False
    )
    result = serializers.JSONField(required=False, allow_null=True)


class TaskCreateSerializer(TaskWriteSerializer):
    business = serializers.SlugField()


class AgentTaskUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=[s.value for s in services.AGENT_STATUSES], required=False)
    result = serializers.JSONField(required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=False, max_length=20000)
    handoff_to = serializers.IntegerField(required=False, help_text="Agent for the dependents this unblocks.")


class CommentSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskComment
        fields = ["id", "task", "kind", "author", "agent", "body", "data", "created_at"]
        read_only_fields = fields


class CommentCreateSerializer(StrictSerializer):
    body = serializers.CharField(max_length=20000)


def _related(business_id: int, fields: dict) -> dict:
    """Turn ids into rows of the same business; a stranger's id is a 400 naming the field."""
    for name, model in (("epic", Epic), ("parent", Task), ("assignee", Agent)):
        if fields.get(name) is not None:
            row = model.objects.filter(pk=fields[name], business_id=business_id).first()
            if row is None:
                raise ValidationError({name: [f"No such {name} in this business."]})
            fields[name] = row
    if "priority" in fields:
        fields["priority"] = PRIORITIES[fields["priority"]]
    return fields


def _people_only(request) -> None:
    if is_agent(request.user):
        raise APIError(403, "permission_denied", "Agent keys cannot use this endpoint.")


def _task_body(task_id: int, user) -> dict:
    return TaskSerializer(selectors.get_task(user=user, pk=task_id)).data


@extend_schema(parameters=[OpenApiParameter("business", str), OpenApiParameter("status", str)])
class EpicListView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = EpicSerializer

    @extend_schema(operation_id="v1_epics_list")
    def get(self, request):
        params = request.query_params
        epics = selectors.epics(
            user=request.user,
            business=params.get("business"),
            status=param(params, "status", parse_choice, choices=EpicStatus.values),
        )
        page = self.paginate_queryset(epics)
        return self.get_paginated_response(EpicSerializer(page, many=True).data)

    @extend_schema(request=EpicCreateSerializer, responses={201: EpicSerializer})
    def post(self, request):
        data = EpicCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        business = get_business(request.user, fields.pop("business"), Role.OPERATOR)
        epic = services.create_epic(business=business, actor=request.user, **fields)
        return Response(EpicSerializer(selectors.get_epic(user=request.user, pk=epic.pk)).data, status=201)


class EpicDetailView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(responses=EpicSerializer)
    def get(self, request, pk: int):
        return Response(EpicSerializer(selectors.get_epic(user=request.user, pk=pk)).data)

    @extend_schema(request=EpicWriteSerializer, responses=EpicSerializer)
    def patch(self, request, pk: int):
        epic = selectors.get_epic(user=request.user, pk=pk, role=Role.OPERATOR)
        data = EpicWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.update_epic(epic=epic, actor=request.user, **data.validated_data)
        return Response(EpicSerializer(selectors.get_epic(user=request.user, pk=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        epic = selectors.get_epic(user=request.user, pk=pk, role=Role.OPERATOR)
        services.delete_epic(epic=epic, actor=request.user)  # its tasks stay, without an epic
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    parameters=[
        OpenApiParameter("business", str),
        OpenApiParameter("status", str),
        OpenApiParameter("epic", int),
        OpenApiParameter("assignee", int),
        OpenApiParameter("parent", int),
        OpenApiParameter("ready", bool, description="only ready (or only not ready) tasks"),
    ]
)
class TaskListView(GenericAPIView):
    serializer_class = TaskSerializer

    @extend_schema(operation_id="v1_tasks_list")
    def get(self, request):
        params = request.query_params
        filters = {}
        for name in ("epic", "assignee", "parent"):
            filters[f"{name}_id"] = param(params, name)
        tasks = selectors.tasks(
            user=request.user,
            business=params.get("business") or None,
            status=param(params, "status", parse_choice, choices=TaskStatus.values),
            ready=parse_flag(params.get("ready"), name="ready"),
            **filters,
        )
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer})
    def post(self, request):
        _people_only(request)
        data = TaskCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        business = get_business(request.user, fields.pop("business"), Role.OPERATOR)
        fields.pop("result", None)
        task = services.create_task(business=business, actor=request.user, **_related(business.pk, fields))
        return Response(_task_body(task.pk, request.user), status=status.HTTP_201_CREATED)


class TaskDetailView(APIView):
    @extend_schema(responses=TaskSerializer)
    def get(self, request, pk: int):
        return Response(_task_body(pk, request.user))

    @extend_schema(request=TaskWriteSerializer, responses=TaskSerializer)
    def patch(self, request, pk: int):
        if is_agent(request.user):
            return self._agent_patch(request, pk)
        task = selectors.get_task(user=request.user, pk=pk, role=Role.OPERATOR)
        data = TaskWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.update_task(
            task=task, actor=request.user, **_related(task.business_id, dict(data.validated_data))
        )
        return Response(_task_body(pk, request.user))

    def _agent_patch(self, request, pk: int):
        agent = request.user.agent
        task = selectors.get_task_for_agent(agent=agent, pk=pk)
        data = AgentTaskUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        handoff = fields.pop("handoff_to", None)
        if handoff is not None:
            handoff = Agent.objects.filter(pk=handoff, business_id=agent.business_id).first()
            if handoff is None:
                raise ValidationError({"handoff_to": ["No such agent in this business."]})
        services.agent_update(
            task=task, agent=agent, comment_body=fields.pop("comment", ""), handoff_to=handoff, **fields
        )
        return Response(TaskSerializer(selectors.get_task_for_agent(agent=agent, pk=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        _people_only(request)
        task = selectors.get_task(user=request.user, pk=pk, role=Role.OPERATOR)
        services.delete_task(task=task, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskCommentsView(GenericAPIView):
    serializer_class = CommentSerializer

    def _task(self, request, pk: int, write: bool) -> Task:
        if is_agent(request.user):
            task = selectors.get_task_for_agent(agent=request.user.agent, pk=pk)
            if write and task.assignee_id != request.user.agent_id:
                raise APIError(403, "not_holder", "Agents may only comment on the tasks they hold.")
            return task
        return selectors.get_task(user=request.user, pk=pk, role=Role.OPERATOR if write else Role.VIEWER)

    def get(self, request, pk: int):
        task = self._task(request, pk, write=False)
        self.paginator.ordering = "id"
        page = self.paginate_queryset(task.comments.all())
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(request=CommentCreateSerializer, responses={201: CommentSerializer})
    def post(self, request, pk: int):
        task = self._task(request, pk, write=True)
        data = CommentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.comment(task=task, body=data.validated_data["body"], actor=request.user)
        return Response(CommentSerializer(note).data, status=status.HTTP_201_CREATED)


class TaskClaimSerializer(StrictSerializer):
    claim_id = serializers.CharField(
        required=False,
        max_length=64,
        help_text="The agent's id for this claim (e.g. a UUID): a retried claim with the same claim_id "
        "answers the task the first attempt took instead of taking another. The SDK sets one per call.",
    )


class AgentTaskClaimView(APIView):
    """The next ready task the agent's capabilities fit, now ``in_progress`` and held by it; 204
    when there is none."""

    permission_classes = [AgentsOnly]

    @extend_schema(request=TaskClaimSerializer, responses={200: TaskSerializer, 204: None})
    def post(self, request):
        data = TaskClaimSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        task = services.claim_next(agent=request.user.agent, claim_id=data.validated_data.get("claim_id"))
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            TaskSerializer(selectors.get_task_for_agent(agent=request.user.agent, pk=task.pk)).data
        )
