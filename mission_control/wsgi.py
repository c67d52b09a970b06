"""WSGI entry point: an optional extra process for the hot agent API paths (see README)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
application = get_wsgi_application()
