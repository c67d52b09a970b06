"""No domain app imports the agent SDK: the SDK is what agents install to talk to the server, and the
server does not talk to itself through it. Its one user inside this repository is the simulator (a
tool beside bench/, issue 14). Every import statement counts, at module level or inside a function."""

import ast

from tests.foundation.apps import ROOT, project_apps

SDK = "mission_control_sdk"
TOOLS = {"simulator"}  # project apps that are tools, not domain: they may use the SDK


def sdk_imports(package: str) -> list[str]:
    """``path:line`` of every import of the SDK in the package's modules."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if any(name == SDK or name.startswith(f"{SDK}.") for name in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def domain_apps() -> list[str]:
    return [app for app in project_apps() if app not in TOOLS]


def test_it_finds_no_sdk_import_in_any_domain_app():
    apps = domain_apps()
    assert {"agents", "executions", "board", "brain", "workflows", "console"} <= set(apps)
    found = {app: hits for app in apps if (hits := sdk_imports(app))}
    assert not found, f"domain apps importing {SDK}: {found}"


def test_it_sees_the_simulators_sdk_imports():
    # The scan finds what it looks for: the simulator does import the SDK.
    assert sdk_imports("simulator")
