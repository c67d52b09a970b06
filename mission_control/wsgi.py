"""WSGI entry point: the Procfile's ``agents`` process for the hot agent API paths (see README).

The heartbeat's common beat is answered in front of Django (``agents.heartbeat_front``); every
other request, and every beat that front does not vouch for, goes through Django as usual."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
django_application = get_wsgi_application()

from agents.heartbeat_front import HeartbeatFront  # noqa: E402  (needs the apps loaded above)

application = HeartbeatFront(django_application)
