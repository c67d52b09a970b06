"""The emergency stop in the admin: a guarded engage page and a release confirmation.

Stops are never added, edited or deleted as rows: engaging and releasing go through
``governance.stops`` (audited, published, signalled) after an explicit confirmation, under the
same rules as the API (engage: operator of the business or superuser for global; release: owner
or superuser for global).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from governance.access import require_role
from governance.models import Business, EmergencyStop
from governance.roles import Role
from governance.stops import engage_emergency_stop, release_emergency_stop
from mission_control.errors import DomainError


def _check(user, business: Business | None, role: str) -> None:
    if business is None:
        if not user.is_superuser:
            raise DomainError("permission_denied", "Only a superuser may act on the global emergency stop.")
        return
    require_role(user, business.pk, role)


class EngageForm(forms.Form):
    business = forms.ModelChoiceField(
        queryset=Business.objects.all(),
        required=False,
        empty_label="Every business (global stop)",
        help_text="Leave empty to stop everything (superusers only).",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000)
    confirm = forms.BooleanField(
        label="I understand: new work is refused, running executions are aborted, agents are told to "
        "stop and cron jobs hold until the stop is released.",
    )


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), max_length=2000, required=False
    )


class EmergencyStopAdmin(admin.ModelAdmin):
    list_display = [
        "scope",
        "state",
        "short_reason",
        "engaged_by",
        "engaged_at",
        "released_by",
        "released_at",
    ]
    list_filter = [("released_at", admin.EmptyFieldListFilter), "business"]
    search_fields = ["reason", "engaged_by", "released_by", "business__name", "business__slug"]
    list_select_related = ["business"]
    readonly_fields = [
        "business",
        "reason",
        "engaged_by",
        "engaged_at",
        "released_by",
        "released_at",
        "release_reason",
    ]
    actions = None

    @admin.display(description="scope", ordering="business__name")
    def scope(self, stop):
        return stop.business.name if stop.business_id else "GLOBAL"

    @admin.display(description="engaged", boolean=True)
    def state(self, stop):
        return stop.is_active

    @admin.display(description="reason")
    def short_reason(self, stop):
        return (stop.reason[:80] + "…") if len(stop.reason) > 80 else stop.reason

    def has_add_permission(self, request):
        return False  # the Engage page, below

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record of every stop is kept

    def get_urls(self):
        own = [
            path(
                "engage/",
                self.admin_site.admin_view(self.engage_view),
                name="governance_emergencystop_engage",
            ),
            path(
                "<int:pk>/release/",
                self.admin_site.admin_view(self.release_view),
                name="governance_emergencystop_release",
            ),
        ]
        return own + super().get_urls()

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    def engage_view(self, request):
        if not self.has_view_permission(request):
            raise DjangoPermissionDenied
        form = EngageForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            business = form.cleaned_data["business"]
            try:
                _check(request.user, business, Role.OPERATOR)
                stop, engaged_now = engage_emergency_stop(
                    business=business, reason=form.cleaned_data["reason"], actor=request.user
                )
            except DomainError as refused:
                messages.error(request, refused.detail or "Not allowed.")
            else:
                if engaged_now:
                    messages.warning(request, f"Emergency stop engaged: {stop}.")
                else:
                    messages.info(request, f"Already engaged since {stop.engaged_at:%Y-%m-%d %H:%M} UTC.")
                return redirect("admin:governance_emergencystop_changelist")
        context = self._context(request, form=form, title="Engage the emergency stop")
        return TemplateResponse(request, "admin/governance/emergencystop/engage.html", context)

    def release_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise DjangoPermissionDenied
        stop = EmergencyStop.objects.select_related("business").filter(pk=pk).first()
        if stop is None or not stop.is_active:
            messages.info(request, "That stop is not engaged.")
            return redirect("admin:governance_emergencystop_changelist")
        form = ReleaseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                _check(request.user, stop.business, Role.OWNER)
                release_emergency_stop(
                    business=stop.business, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as refused:
                messages.error(request, refused.detail or "Not allowed.")
            else:
                messages.success(request, f"Released: {stop.business or 'global'}. Held work resumes.")
            return redirect("admin:governance_emergencystop_changelist")
        context = self._context(request, form=form, stop=stop, title="Release the emergency stop")
        return TemplateResponse(request, "admin/governance/emergencystop/release.html", context)
