"""The brain over HTTP: documents agents (with their key) and people write, versioned and searchable.

- ``GET /api/v1/brain/documents?business=&agent=&tag=&key=&q=``: newest first; ``q`` is full text.
- ``POST /api/v1/brain/documents`` ``{"business" (people), "agent": id|null, "key", "title", "body", "tags"}``
  -> 201. An agent writes in its own business, shared (``agent`` null) or its own (``agent`` = itself).
- ``GET /api/v1/brain/documents/{id}``; ``PATCH`` ``{"title", "body", "tags", "expected_version"}`` -> a
  new version (409 ``version_conflict`` when ``expected_version`` is stale).
- ``GET /api/v1/brain/documents/{id}/versions``: every version, newest first.

Roles: a viewer reads, an operator writes. Another business's documents, and another agent's own
documents for an agent key, are 404.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from agents.models import Agent
from brain import selectors, services
from brain.models import BrainDocument, BrainVersion
from governance.access import get_business, is_agent
from governance.models import Business
from governance.roles import Role
from mission_control.api.serializers import StrictSerializer
from mission_control.params import param

MAX_BODY = 1_000_000
Tags = serializers.ListField(
    child=serializers.CharField(max_length=64), max_length=services.MAX_TAGS, required=False
)


class DocumentSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug", read_only=True)
    agent = serializers.IntegerField(source="agent_id", read_only=True, allow_null=True)

    class Meta:
        model = BrainDocument
        fields = ["id", "business", "agent", "key", "title", "body", "tags", "version"]
        fields += ["created_by", "updated_by", "created_at", "updated_at"]
        read_only_fields = fields


class VersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = BrainVersion
        fields = ["number", "title", "body", "tags", "author", "created_at"]
        read_only_fields = fields


class DocumentCreateSerializer(StrictSerializer):
    business = serializers.SlugField(required=False, help_text="People: the business's slug.")
    agent = serializers.IntegerField(
        required=False, allow_null=True, help_text="Empty: shared by the business."
    )
    key = serializers.CharField(max_length=200)
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=MAX_BODY, trim_whitespace=False
    )
    tags = Tags


class DocumentUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(allow_blank=True, required=False, max_length=MAX_BODY, trim_whitespace=False)
    tags = Tags
    expected_version = serializers.IntegerField(required=False, min_value=1)


def _scope_for_write(request, data: dict) -> tuple[Business, Agent | None]:
    """Where a new document goes, checked as the rest of the API checks."""
    user, agent_id = request.user, data.get("agent")
    if is_agent(user):
        if agent_id not in (None, user.agent_id):
            raise ValidationError(
                {"agent": ["An agent writes shared documents or its own, not another agent's."]}
            )
        return user.agent.business, (user.agent if agent_id else None)
    if not data.get("business"):
        raise ValidationError({"business": ["This field is required."]})
    business = get_business(user, data["business"], Role.OPERATOR)
    agent = None
    if agent_id is not None:
        agent = Agent.objects.filter(pk=agent_id, business=business).first()
        if agent is None:
            raise ValidationError({"agent": ["No such agent in this business."]})
    return business, agent


@extend_schema(
    parameters=[
        OpenApiParameter("business", str, description="business slug"),
        OpenApiParameter("agent", str, description="an agent id, or 'none' for shared documents only"),
        OpenApiParameter("tag", str),
        OpenApiParameter("key", str),
        OpenApiParameter("q", str, description="full text over title and body"),
    ]
)
class DocumentListView(GenericAPIView):
    serializer_class = DocumentSerializer

    def get(self, request):
        params = request.query_params
        qs = selectors.visible_documents(request.user).select_related("business")
        if params.get("business"):
            if is_agent(request.user):
                if params["business"] != request.user.agent.business.slug:
                    raise NotFound()
            else:
                qs = qs.filter(business=get_business(request.user, params["business"]))
        agent = params.get("agent", "")
        if agent == "none":
            qs = qs.filter(agent__isnull=True)
        elif agent:
            qs = qs.filter(agent_id=param(params, "agent"))
        if params.get("tag"):
            qs = qs.with_tag(params["tag"])
        if params.get("key"):
            qs = qs.filter(key=params["key"])
        page = self.paginate_queryset(selectors.search(qs, params.get("q", "")))
        return self.get_paginated_response(DocumentSerializer(page, many=True).data)

    @extend_schema(request=DocumentCreateSerializer, responses={201: DocumentSerializer})
    def post(self, request):
        data = DocumentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        business, agent = _scope_for_write(request, fields)
        document = services.write_document(
            business=business,
            agent=agent,
            key=fields["key"],
            title=fields["title"],
            body=fields.get("body", ""),
            tags=fields.get("tags", []),
            actor=request.user,
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentDetailView(GenericAPIView):
    serializer_class = DocumentSerializer

    def get(self, request, pk: int):
        return Response(DocumentSerializer(selectors.get_document(user=request.user, pk=pk)).data)

    @extend_schema(request=DocumentUpdateSerializer, responses=DocumentSerializer)
    def patch(self, request, pk: int):
        document = selectors.get_document(user=request.user, pk=pk, write=True)
        data = DocumentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        expected = changes.pop("expected_version", None)
        updated = services.update_document(
            document=document, actor=request.user, expected_version=expected, **changes
        )
        return Response(DocumentSerializer(updated).data)


class DocumentVersionsView(GenericAPIView):
    serializer_class = VersionSerializer

    def get(self, request, pk: int):
        document = selectors.get_document(user=request.user, pk=pk)
        page = self.paginate_queryset(document.versions.all())  # newest first: ids grow with numbers
        return self.get_paginated_response(VersionSerializer(page, many=True).data)
