"""The operator pages (templates/). Each app adds its pages here as they are built."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path
from django.utils.module_loading import import_string
from django.views.generic import RedirectView

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html",
            # governance's form, named in settings (this package imports no app): it says why a
            # sign-in was refused (too many attempts) rather than "wrong password".
            authentication_form=import_string(settings.MC_SIGNIN_FORM),
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", RedirectView.as_view(url="/control", permanent=False), name="home"),
]
