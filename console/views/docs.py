"""``/global/api-docs``: the OpenAPI schema, browsable inside the console (Swagger UI from the sidecar)."""

from console.views.base import console_page, page


@console_page
def api_docs(request):
    return page(request, "console/api_docs.html", {}, active="api-docs")
