"""Services raise DomainError; the API answers it in the contract's error shape with the status
its code maps to (one table: mission_control.errors.STATUS_BY_CODE)."""

import ast
from pathlib import Path

from mission_control.api.errors import exception_handler
from mission_control.errors import STATUS_BY_CODE, DomainError

ROOT = Path(__file__).resolve().parents[2]


def test_it_renders_a_domain_error_in_the_error_shape_with_its_status():
    response = exception_handler(DomainError("budget_exists", "A budget exists.", budget=7), {})
    assert response.status_code == 409
    assert response.data == {"error": "budget_exists", "detail": "A budget exists.", "budget": 7}


def test_it_sends_retry_after_as_a_header_too():
    response = exception_handler(DomainError("write_conflict", "Again.", retry_after=1), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "1"


def test_it_answers_400_for_a_code_missing_from_the_table():
    assert "no_such_code" not in STATUS_BY_CODE
    assert exception_handler(DomainError("no_such_code", "?"), {}).status_code == 400


# Modules that are DRF's own extension points (authentication, permission and throttle classes
# named in REST_FRAMEWORK): they belong to the API layer although they sit beside the services.
DRF_ADAPTERS = {
    "agents/auth.py",
    "agents/heartbeat_gate.py",  # the heartbeat view's own authentication and throttle classes
    "governance/auth.py",
    "governance/permissions.py",
    "governance/throttling.py",
}
NOT_SERVER_CODE = {
    ".venv",
    "tests",
    "bench",
    "docs",
    "static",
    "templates",
    "sdk",
    "simulator",
    "node_modules",
}


def _server_modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if len(parts) < 2 or parts[0] in NOT_SERVER_CODE or parts[0].startswith("."):
            continue
        if "migrations" in parts:
            continue
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), filename=str(path))


def _imported_modules(tree) -> set[str]:
    found = set()
    for node in ast.walk(tree):  # imports inside functions count too
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_it_keeps_drf_out_of_every_module_outside_the_api_packages():
    offenders = [
        name
        for name, tree in _server_modules()
        if "/api/" not in f"/{name}"
        and name not in DRF_ADAPTERS
        and any(m == "rest_framework" or m.startswith("rest_framework.") for m in _imported_modules(tree))
    ]
    assert offenders == []


def test_it_maps_every_code_a_service_raises_to_a_status():
    codes = set()
    for _name, tree in _server_modules():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            callee = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if callee == "DomainError":
                codes.add(node.args[0].value)
            elif callee == "_refuse":  # governance.enforcement: restriction_<rule>
                codes.add(f"restriction_{node.args[0].value}")
    assert "budget_exists" in codes and "restriction_trigger" in codes  # the scan sees the services
    assert sorted(code for code in codes if code not in STATUS_BY_CODE) == []
