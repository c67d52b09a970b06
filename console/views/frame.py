"""The frame's own endpoints: the business switcher and the command palette's search."""

from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from console import palette
from console.views.base import SESSION_KEY, console_page


@require_POST
@console_page
def switch_business(request):
    """Narrow every page to one of the user's businesses ("" = all of them)."""
    slug = request.POST.get("business", "")
    if slug:
        request.mc_scope.business(slug)  # 404 for a business the user is not in
        request.session[SESSION_KEY] = slug
    else:
        request.session.pop(SESSION_KEY, None)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = "/control"
    return redirect(target)


@require_GET
@console_page
def palette_search(request):
    query = request.GET.get("q", "")[:100]
    return JsonResponse({"query": query, "results": palette.search(scope=request.mc_scope, query=query)})
