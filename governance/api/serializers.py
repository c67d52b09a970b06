from zoneinfo import available_timezones

from rest_framework import serializers

from governance.models import Business, Membership, OperatorToken
from governance.roles import Role
from mission_control.api.serializers import StrictSerializer


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=80)


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = OperatorToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]


class BusinessSerializer(StrictSerializer, serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Business
        fields = ["id", "name", "slug", "timezone", "created_at", "role"]
        read_only_fields = ["id", "created_at", "role"]
        extra_kwargs = {"slug": {"validators": []}}  # a taken slug is a 409 from the service

    def get_role(self, business) -> str | None:
        roles = self.context.get("roles") or {}
        return roles.get(business.pk)

    def validate_timezone(self, value):
        if value not in available_timezones():
            raise serializers.ValidationError("Unknown IANA time zone.")
        return value

    def validate_slug(self, value):
        return value.lower()


class MemberRequestSerializer(StrictSerializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    business = serializers.CharField(source="business.slug")

    class Meta:
        model = Membership
        fields = ["username", "business", "role", "created_at"]
