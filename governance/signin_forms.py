"""The sign-in forms of the operator pages and the Django admin: say why a sign-in was refused.

The limits themselves are in ``governance.signin`` (the authentication backend); these forms only
turn a refusal into a clear message instead of "wrong password".
"""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from governance.signin import refusal


class _SaysWhyRefused:
    def get_invalid_login_error(self):
        refused = refusal(self.request)
        if refused is not None:
            return ValidationError(str(refused), code="too_many_attempts")
        return super().get_invalid_login_error()


class SignInForm(_SaysWhyRefused, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong username or password. Both are case-sensitive.",
    }


class AdminSignInForm(_SaysWhyRefused, AdminAuthenticationForm):
    pass
