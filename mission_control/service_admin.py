"""Admin pages that write through services, and show a service's refusal on the form.

An admin's ``save_model`` runs after the form validated, inside the change view's transaction, so
a refusal raised there (``budget_exists``, a cycle, a bad retry policy) would otherwise be a 500.
:class:`ServiceAdmin` catches it, lets the transaction roll back (nothing half-written), and renders
the same form again with the service's sentence on the field it names (the error's ``fields``), or
above the form: one rule, written once in the service, seen alike by the API and the admin.
"""

from django.contrib import admin, messages

from mission_control.errors import DomainError


def refusal_text(refusal: DomainError) -> str:
    return refusal.detail


class ServiceAdmin(admin.ModelAdmin):
    """A ModelAdmin whose ``save_model``/``delete_model`` call services (subclasses define them)."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as refusal:
            # The view's atomic block has rolled back. Render the submitted form again, invalid.
            request.mc_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "mc_refusal", None)
        if refusal is None:
            return form

        class Refused(form):
            def clean(self):
                data = super().clean()
                named = (getattr(refusal, "extra", None) or {}).get("fields") or {}
                field = next((name for name in named if name in self.fields), None)
                self.add_error(field, refusal_text(refusal))
                return data

        return Refused

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as refusal:
            self.message_user(request, refusal_text(refusal), messages.ERROR)
            return self.response_post_save_change(request, None)

    def response_action(self, request, queryset):
        # Bulk actions (delete selected, ...) call the services row by row in one transaction.
        try:
            return super().response_action(request, queryset)
        except DomainError as refusal:
            self.message_user(request, refusal_text(refusal), messages.ERROR)
            return None
