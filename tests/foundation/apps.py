"""The project's own apps, for the checks that scan them: the local entries of INSTALLED_APPS, so an
app added there is checked without anyone remembering to list it."""

from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def project_apps() -> list[str]:
    return [app for app in settings.INSTALLED_APPS if "." not in app and (ROOT / app).is_dir()]
