"""The import graph of the project's apps: no cycle, and no arrow up the design's layers.

The graph is built from the AST of every module of every project app (the local entries of
``INSTALLED_APPS``; migrations excluded, they are generated and import only Django and the app's own
models by string). Every import statement counts: module level, inside functions and methods, and
inside ``if TYPE_CHECKING:`` blocks too: an import a function hides is still a dependency the module
has (style.md: "an import inside a function is the smell, not the fix"), and a type-only import that
closes a loop still says two modules need each other.

An edge ``a -> b`` means module ``a`` imports module ``b`` (``from pkg import name`` points at
``pkg.name`` when that is a module, else at ``pkg``). Only import statements make edges: that
importing ``pkg.mod`` first runs ``pkg/__init__`` is not one (``mission_control/__init__`` loads its
Celery app, Django's standard arrangement, and every module of the package would otherwise "import" it).

Run ``python -m tests.foundation.test_import_graph`` (from the repository) for the figures: cycles (strongly connected
components with more than one module, or a module importing itself), function-level imports, upward
arrows.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tests.foundation.apps import project_apps

ROOT = Path(__file__).resolve().parents[2]

# design.md, "Imports run down this table, never up": an app may import the apps on its left only.
# A new app declares its place here (the test fails for an app it does not know).
LAYERS: list[set[str]] = [
    {"mission_control"},
    {"governance"},
    {"agents"},
    {"executions", "brain"},  # the brain left agents (issue 14): documents of a business or an agent
    {"board", "workflows"},  # the board left workflows (issue 14): peers, neither imports the other
    {"observability", "autoscaling"},  # read the apps below (autoscaling scales through agents)
    {"intelligence"},  # failure prediction: reads the ledger, presence and observability
    {"telemetry"},  # OTLP traces in, Prometheus metrics out: on top of the apps above
    {"console"},  # the operator pages: on top of everything
    {"simulator"},  # a tool beside bench/: drives the server over HTTP through the SDK
]

# Upward arrows tolerated for now: none. The one the review found (agents.api.views importing
# executions for the manual run) moved with its view to executions/api/agent_runs.py (issue 14 item 4).
# An entry here must exist (the test fails for one that no longer does), so the set only shrinks.
KNOWN_UPWARD: set[tuple[str, str]] = set()


@dataclass
class Graph:
    modules: set[str] = field(default_factory=set)
    edges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    function_level: list[tuple[str, int, str]] = field(default_factory=list)  # (module, line, target)
    packages: set[str] = field(default_factory=set)

    def add(self, source: str, target: str) -> None:
        self.edges[source].add(target)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_files(app: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts)


class _Imports(ast.NodeVisitor):
    """Every import in a module, with whether it sits inside a function."""

    def __init__(self) -> None:
        self.found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []
        self._depth = 0

    def _function(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        self.found.append((node, self._depth > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.append((node, self._depth > 0))


def build(apps: list[str]) -> Graph:
    graph = Graph()
    files = {module_name(p): p for app in apps for p in app_files(app)}
    graph.modules = set(files)
    graph.packages = {m for m, p in files.items() if p.name == "__init__.py"}

    def resolve(name: str) -> str | None:
        """The deepest project module ``name`` names (``a.b.c`` where only ``a.b`` is a module)."""
        while name and name not in graph.modules:
            name = name.rpartition(".")[0]
        return name or None

    for module, path in files.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        package = module if module in graph.packages else module.rpartition(".")[0]
        for node, in_function in visitor.found:
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for target in targets:
                resolved = resolve(target)
                if resolved is None:
                    continue
                if resolved != module:
                    graph.add(module, resolved)
                if in_function:
                    graph.function_level.append((module, node.lineno, resolved))
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def cycles(graph: Graph) -> list[list[str]]:
    return sorted(
        (c for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph.edges.get(c[0], ())),
        key=lambda c: c[0],
    )


def one_cycle(graph: Graph, component: list[str]) -> list[str]:
    """A concrete loop through a component, to name in the failure (a -> b -> ... -> a)."""
    members = set(component)
    start = component[0]
    # Breadth-first from start back to start, staying inside the component.
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph.edges.get(node, ())):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    nxt.append(child)
        frontier = nxt
    return component


def app_of(module: str) -> str:
    return module.split(".")[0]


def layer_of(app: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if app in layer), None)


def upward_arrows(graph: Graph) -> list[tuple[str, str]]:
    arrows = []
    for source, targets in graph.edges.items():
        for target in targets:
            a, b = layer_of(app_of(source)), layer_of(app_of(target))
            if a is not None and b is not None and b > a:
                arrows.append((source, target))
            elif a is not None and b is not None and a == b and app_of(source) != app_of(target):
                arrows.append((source, target))  # two apps of one layer know nothing of each other
    return sorted(arrows)


def figures(graph: Graph, apps: list[str]) -> dict[str, dict[str, int]]:
    found = cycles(graph)
    per_app = {}
    for app in apps:
        inside = [c for c in found if all(app_of(m) == app for m in c)]
        per_app[app] = {
            "modules": sum(1 for m in graph.modules if app_of(m) == app),
            "cycles": len(inside),
            "modules_in_cycles": sum(len(c) for c in inside),
            # statements (a "from x import a, b" inside a function is one)
            "function_level_imports": len(
                {(m, line) for m, line, _ in graph.function_level if app_of(m) == app}
            ),
            "function_level_same_app": len(
                {(m, line) for m, line, t in graph.function_level if app_of(m) == app and app_of(t) == app}
            ),
        }
    per_app["(across apps)"] = {
        "cycles": sum(1 for c in found if len({app_of(m) for m in c}) > 1),
        "upward_arrows": len(upward_arrows(graph)),
    }
    return per_app


# --- the tests -------------------------------------------------------------------------------------


def test_it_knows_where_every_app_sits():
    unknown = [app for app in project_apps() if layer_of(app) is None]
    assert not unknown, f"declare the layer of {unknown} in LAYERS (design.md's import direction)"


def test_it_finds_no_import_cycle():
    graph = build(project_apps())
    loops = [" -> ".join(one_cycle(graph, c)) for c in cycles(graph)]
    assert not loops, "import cycles (counting imports inside functions):\n" + "\n".join(loops)


def test_it_finds_no_import_up_the_layers():
    found = set(upward_arrows(build(project_apps())))
    arrows = [f"{a} -> {b}" for a, b in sorted(found - KNOWN_UPWARD)]
    assert not arrows, "imports up design.md's layers:\n" + "\n".join(arrows)
    gone = [f"{a} -> {b}" for a, b in sorted(KNOWN_UPWARD - found)]
    assert not gone, "fixed, remove from KNOWN_UPWARD:\n" + "\n".join(gone)


def test_it_sees_a_cycle_hidden_in_a_function(tmp_path, monkeypatch):
    # The check itself: a loop closed only by a function-level import is found and named.
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "one.py").write_text("from app import two\n")
    (tmp_path / "app" / "two.py").write_text("def f():\n    from .one import g\n")
    graph = build(["app"])
    assert [one_cycle(graph, c) for c in cycles(graph)] == [["app.one", "app.two", "app.one"]]
    assert graph.function_level == [("app.two", 2, "app.one")]


if __name__ == "__main__":
    import json
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
    django.setup()
    apps = project_apps()
    graph = build(apps)
    print(json.dumps(figures(graph, apps), indent=1))
    for component in cycles(graph):
        print(f"SCC ({len(component)}): {' -> '.join(one_cycle(graph, component))}")
        print("    members:", ", ".join(component))
    for a, b in upward_arrows(graph):
        print(f"UP: {a} -> {b}")
