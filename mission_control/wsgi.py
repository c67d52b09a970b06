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

from mission_control import collector  # noqa: E402  (settles the heap loaded above)

# A full collection stops every thread of the worker. The start-up heap (~190k objects) frozen, a
# full pass over 3,000 agents' caches walked ~60k objects in 10 ms instead of ~250k in 85-90 ms
# (in-process probe); the thresholds make passes rarer as in the web process (collector.py).
collector.settle()
