from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from governance import services
from governance.access import get_business, is_agent, visible_businesses
from governance.api.serializers import (
    BusinessSerializer,
    MemberRequestSerializer,
    MembershipSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from governance.models import Membership, OperatorToken
from governance.roles import Role
from governance.signin import refusal
from mission_control.api.errors import APIError


class OperatorsOnly:
    """Mixin: agent keys get 403 on operator endpoints."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if is_agent(request.user):
            raise APIError(403, "permission_denied", "Agent keys cannot use this endpoint.")


class TokenView(APIView):
    """Exchange a username and password for an operator API token (shown once).

    Sign-in limits (per address, per username; ``governance.signin``) answer 429 with ``Retry-After``."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []  # the authentication backend limits every sign-in path

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: inline_serializer(
                "TokenIssued", {"token": serializers.CharField(), "id": serializers.IntegerField()}
            )
        },
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request, username=data.validated_data["username"], password=data.validated_data["password"]
        )
        if user is None and (refused := refusal(request)) is not None:
            raise APIError(429, "rate_limited", str(refused), retry_after=refused.retry_after)
        if user is None or not user.is_active:
            raise APIError(401, "invalid_credentials", "Wrong username or password.")
        token, raw = services.issue_operator_token(user=user, name=data.validated_data.get("name", ""))
        return Response({"token": raw, "id": token.pk, "prefix": token.prefix})


class TokenListView(OperatorsOnly, GenericAPIView):
    serializer_class = TokenSerializer

    @extend_schema(responses=TokenSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(OperatorToken.objects.filter(user=request.user))
        return self.get_paginated_response(TokenSerializer(page, many=True).data)


class TokenDetailView(OperatorsOnly, APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        token = OperatorToken.objects.filter(user=request.user, pk=pk).first()
        if token is None:
            raise NotFound()
        services.revoke_operator_token(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BusinessListView(OperatorsOnly, GenericAPIView):
    serializer_class = BusinessSerializer

    @extend_schema(responses=BusinessSerializer(many=True))
    def get(self, request):
        self.paginator.ordering = ("name", "id")
        businesses = self.paginate_queryset(visible_businesses(request.user))
        roles = dict(Membership.objects.filter(user=request.user).values_list("business_id", "role"))
        if request.user.is_superuser:
            roles = {b.pk: roles.get(b.pk, Role.OWNER) for b in businesses}
        data = BusinessSerializer(businesses, many=True, context={"roles": roles}).data
        return self.get_paginated_response(data)

    @extend_schema(request=BusinessSerializer, responses={201: BusinessSerializer})
    def post(self, request):
        data = BusinessSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        business = services.create_business(
            name=data.validated_data["name"],
            slug=data.validated_data["slug"],
            timezone_name=data.validated_data.get("timezone", "UTC"),
            owner=request.user,
        )
        return Response(
            BusinessSerializer(business, context={"roles": {business.pk: Role.OWNER}}).data, status=201
        )


class BusinessDetailView(OperatorsOnly, APIView):
    @extend_schema(responses=BusinessSerializer)
    def get(self, request, slug: str):
        business = get_business(request.user, slug)
        return Response(BusinessSerializer(business).data)


class MemberListView(OperatorsOnly, GenericAPIView):
    serializer_class = MembershipSerializer

    @extend_schema(responses=MembershipSerializer(many=True))
    def get(self, request, slug: str):
        business = get_business(request.user, slug, Role.VIEWER)
        members = Membership.objects.filter(business=business).select_related("user", "business")
        page = self.paginate_queryset(members)
        return self.get_paginated_response(MembershipSerializer(page, many=True).data)

    @extend_schema(request=MemberRequestSerializer, responses={200: MembershipSerializer})
    def post(self, request, slug: str):
        business = get_business(request.user, slug, Role.OWNER)
        data = MemberRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.set_member(business=business, actor=request.user, **data.validated_data)
        return Response(MembershipSerializer(membership).data)


class MemberDetailView(OperatorsOnly, APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, slug: str, username: str):
        business = get_business(request.user, slug, Role.OWNER)
        services.remove_member(business=business, username=username, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
