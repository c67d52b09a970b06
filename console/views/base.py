"""What every console page shares: sign-in, the business scope, errors as pages, the frame's context.

Pages read through the same selectors and access checks as the API (``governance.access``): a business
the user does not belong to answers 404 here too, and a role too low for an action answers 403.
"""

from dataclasses import dataclass, field
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import render

from console.pages import PAGES, navigation
from governance.access import role_in, visible_businesses
from governance.models import Business
from governance.roles import at_least
from mission_control.errors import DomainError
from mission_control.stream import stream_position

SESSION_KEY = "mc_business"
PAGE_KEYS = {p.key: True for p in PAGES}  # templates link to a page only when it exists


@dataclass
class Scope:
    """The businesses a signed-in user sees, and the one the switcher narrowed the pages to (if any)."""

    user: object
    businesses: list[Business]
    current: Business | None = None
    _by_slug: dict = field(default_factory=dict)

    def __post_init__(self):
        self._by_slug = {b.slug: b for b in self.businesses}

    @property
    def ids(self) -> list[int]:
        return [self.current.pk] if self.current else [b.pk for b in self.businesses]

    @property
    def shows_business(self) -> bool:
        """Rows name their business only when they could belong to more than one."""
        return self.current is None and len(self.businesses) > 1

    @property
    def sees_everything(self) -> bool:
        return bool(getattr(self.user, "is_superuser", False)) and self.current is None

    def business(self, slug: str) -> Business:
        """A business by slug, or 404 when the user is not a member (its existence is not revealed)."""
        found = self._by_slug.get(slug)
        if found is None:
            raise Http404
        return found

    def role(self, business_id: int) -> str | None:
        return role_in(self.user, business_id)

    def can(self, business_id: int, role: str) -> bool:
        return at_least(self.role(business_id), role)

    def can_anywhere(self, role: str) -> bool:
        return any(self.can(b.pk, role) for b in self.businesses)

    @property
    def home_slug(self) -> str | None:
        """The business the per-business pages (board, epics, overview) open on."""
        if self.current:
            return self.current.slug
        return self.businesses[0].slug if self.businesses else None


def load_scope(request) -> Scope:
    businesses = list(visible_businesses(request.user).order_by("name"))
    scope = Scope(user=request.user, businesses=businesses)
    slug = request.session.get(SESSION_KEY)
    if slug:
        scope.current = scope._by_slug.get(slug)
        if scope.current is None:  # membership gone since it was chosen
            request.session.pop(SESSION_KEY, None)
    return scope


def console_page(view):
    """Sign-in required; the scope on ``request.mc_scope``; 404 and 403 rendered as console pages."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        request.mc_scope = load_scope(request)
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return render(request, "console/error.html", _error(request, 404), status=404)
        except DjangoPermissionDenied as exc:
            return render(request, "console/error.html", _error(request, 403, str(exc)), status=403)
        except DomainError as exc:
            # The selectors' and access checks' refusals: a stranger's object is a 404 page, a role
            # too small a 403 page; any other refusal propagates as before.
            if exc.code == "not_found":
                return render(request, "console/error.html", _error(request, 404), status=404)
            if exc.code == "permission_denied":
                return render(request, "console/error.html", _error(request, 403, exc.detail), status=403)
            raise

    return wrapper


def _error(request, status: int, detail: str = "") -> dict:
    context = frame_context(request, active="")
    context.update(status=status, detail=detail)
    return context


def frame_context(request, *, active: str) -> dict:
    scope = request.mc_scope
    return {
        "scope": scope,
        "nav": navigation(scope.home_slug, active),
        "active_page": active,
        "last_event_id": stream_position(),  # a final id: nothing committing later is skipped
        "pages": PAGE_KEYS,
    }


def page(request, template: str, context: dict, *, active: str, partial: str | None = None, status=200):
    """Render a page in the frame, or only ``partial`` when htmx asks for a piece of it."""
    if partial and getattr(request, "htmx", False) and not request.htmx.boosted:
        return render(
            request, partial, {"scope": request.mc_scope, "pages": PAGE_KEYS, **context}, status=status
        )
    return render(request, template, {**frame_context(request, active=active), **context}, status=status)


def fragment(request, template: str, context: dict, status=200):
    """A piece of a page (an htmx target) on its own, whoever asks for it."""
    return render(
        request, template, {"scope": request.mc_scope, "pages": PAGE_KEYS, **context}, status=status
    )
