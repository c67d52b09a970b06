"""Never shadow the framework: no code of ours assigns an attribute Django's request objects own.

``request.scope = ...`` once replaced ASGIRequest.scope (the ASGI scope) with the console's business
scope, and ``request.is_secure()`` then raised under daphne: every page answered 500 with DEBUG=0.
This scans every module of the project (tests aside) for such an assignment.
"""

import ast
import io
from pathlib import Path

from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", "tests", "node_modules", "var", "artifacts", ".git"}
# Set on the request by the framework's middleware (auth, sessions, messages, CSRF, django-htmx).
SET_BY_MIDDLEWARE = {"user", "auser", "session", "_messages", "csrf_processing_done", "htmx", "urlconf"}


def framework_names() -> set[str]:
    """Every attribute a Django request has: its class's and those its constructor sets."""
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}
    asgi = ASGIRequest(scope, io.BytesIO())
    wsgi = WSGIRequest(RequestFactory().get("/").environ)
    return {n for n in dir(asgi) + dir(wsgi) if not n.startswith("__")} | SET_BY_MIDDLEWARE


def _is_request(node: ast.expr) -> bool:
    """``request`` or ``<anything>.request`` (``self.request`` in class-based views)."""
    return (isinstance(node, ast.Name) and node.id == "request") or (
        isinstance(node, ast.Attribute) and node.attr == "request"
    )


def shadowing(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, attribute) for each ``request.<name> = ...`` or ``setattr(request, "<name>", ...)``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
            and _is_request(node.args[0])
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in names
        ):
            found.append((node.lineno, node.args[1].value))
        while targets:
            target = targets.pop()
            if isinstance(target, ast.Tuple | ast.List):
                targets.extend(target.elts)  # request.user, x = ...
            elif isinstance(target, ast.Starred):
                targets.append(target.value)
            elif isinstance(target, ast.Attribute) and _is_request(target.value) and target.attr in names:
                # Only the attribute itself: request.session[key] = ... uses the session, as meant.
                found.append((target.lineno, target.attr))
    return found


def project_modules():
    for path in sorted(ROOT.rglob("*.py")):
        if not SKIP.intersection(path.relative_to(ROOT).parts):
            yield path


def test_it_knows_the_attributes_django_owns():
    names = framework_names()
    assert {"scope", "user", "session", "method", "path", "META", "is_secure", "GET", "POST"} <= names
    assert "mc_scope" not in names and "request_id" not in names


def test_it_finds_a_shadowing_assignment_in_any_form():
    names = framework_names()
    source = (
        "def view(request):\n"
        "    request.scope = load()\n"
        "    self.request.user = u\n"
        "    setattr(request, 'session', s)\n"
        "    request.META, other = {}, 1\n"
        "    request.mc_scope = fine\n"
        "    request.session['business'] = 'acme'\n"
        "    request.session.modified = True\n"
    )
    assert sorted(shadowing(source, names)) == [(2, "scope"), (3, "user"), (4, "session"), (5, "META")]


def test_it_finds_no_code_that_shadows_an_attribute_of_djangos_request():
    names = framework_names()
    offenders = [
        f"{path.relative_to(ROOT)}:{line} assigns request.{name}"
        for path in project_modules()
        for line, name in shadowing(path.read_text(), names)
    ]
    assert offenders == [], "use a name of your own (request.mc_<name>):\n" + "\n".join(offenders)
