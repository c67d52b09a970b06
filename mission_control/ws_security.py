from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    """Checks the Origin of browser connections against ALLOWED_HOSTS.

    Browsers always send Origin, so a cross-site page cannot ride an operator's session; scripts
    and agents send none and authenticate with ``?token=`` instead, so a missing Origin is allowed.
    """

    def __init__(self, application):
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)
