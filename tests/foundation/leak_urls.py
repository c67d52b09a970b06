"""Views that fail the ways a request can fail, served beside the real URLs (test_connection_leaks)."""

from django.db import transaction
from django.http import StreamingHttpResponse
from django.urls import path

from governance.models import Business
from mission_control.urls import urlpatterns as real_urlpatterns


def locals_queryset(request):
    """Fails with an unevaluated queryset in its locals: the DEBUG page evaluates it."""
    businesses = Business.objects.filter(slug__startswith="a")  # noqa: F841
    raise RuntimeError("a view failed")


def in_atomic(request):
    """Fails inside a transaction, after writing."""
    with transaction.atomic():
        Business.objects.create(name="Doomed", slug=f"doomed-{Business.objects.count()}")
        raise RuntimeError("a transaction failed")


def mid_stream(request):
    """Fails while the response streams, after the view returned (an export that breaks)."""

    def rows():
        yield f"{Business.objects.count()}\n"
        raise RuntimeError("a stream failed")

    return StreamingHttpResponse(rows(), content_type="text/csv")


urlpatterns = [
    path("leak/locals", locals_queryset),
    path("leak/stream", mid_stream),
    path("leak/atomic", in_atomic),
    *real_urlpatterns,
]
