"""ASGI entry point: HTTP (Django) and WebSocket (Channels) on one port."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application() does

from mission_control.asgi_handler import PoolSafeASGIHandler  # noqa: E402

django_asgi_app = PoolSafeASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from mission_control.routing import websocket_urlpatterns  # noqa: E402
from mission_control.ws_security import BrowserOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

from mission_control import collector  # noqa: E402

# What is loaded by now lives as long as the process: out of the collector's full passes, which
# stop the event loop for as long as they walk the heap; and rarer full passes (collector.py).
collector.settle()
