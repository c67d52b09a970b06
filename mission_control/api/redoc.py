"""ReDoc's bundle as the sidecar ships it, minus the one thing it loads from elsewhere.

Its sidebar shows Redocly's logo from ``https://cdn.redoc.ly`` whatever the options say; the pages
load nothing from elsewhere (and the Content-Security-Policy would refuse it and report each time),
so the bundle is served with that address swapped for an empty inline image.
"""

from functools import lru_cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpResponse

SIDECAR_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REMOTE_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_IMAGE = b"data:image/svg+xml,%3Csvg%20xmlns=%22http://www.w3.org/2000/svg%22/%3E"


@lru_cache(maxsize=1)
def bundle() -> bytes:
    return Path(finders.find(SIDECAR_BUNDLE)).read_bytes().replace(REMOTE_LOGO, EMPTY_IMAGE)


def redoc_bundle(request) -> HttpResponse:
    response = HttpResponse(bundle(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response
