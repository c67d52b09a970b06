"""WSGI entry point: the Procfile's ``agents`` process for the hot agent API paths (see README).

A plain heartbeat is answered in front of Django (``agents.api.heartbeat_front``, named by string
like a middleware: this package sits below the apps) unless ``MC_HEARTBEAT_FRONT`` is off; every
other request, and every beat that front does not vouch for, goes through Django as usual."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
django_application = get_wsgi_application()
application = django_application
if settings.MC_HEARTBEAT_FRONT:
    application = import_string("agents.api.heartbeat_front.HeartbeatFront")(django_application)
