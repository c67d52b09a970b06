"""Lock what you mean: a SELECT ... FOR UPDATE that joins another table (select_related, or a filter
across a relation) locks the joined rows too unless it names its own with ``of=("self",)``.

Issue 13: the execution lock of update/dispatch/abort also locked the business row, and deadlocked
against starts in the same business. This scan keeps every such query honest.
"""

import ast
from pathlib import Path

from tests.foundation.apps import project_apps

ROOT = Path(__file__).resolve().parents[2]
LOOKUPS = {"in", "isnull", "lt", "lte", "gt", "gte", "exact", "iexact", "contains", "icontains",
           "startswith", "istartswith", "endswith", "range", "date", "year"}  # fmt: skip
QUERY_METHODS = {"filter", "exclude", "get", "get_or_create", "update_or_create"}


def _chain(node: ast.Call) -> list[ast.Call]:
    """The calls of a method chain, outermost first: a.b().c().d() -> [d(), c(), b()]."""
    calls = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        calls.append(node)
        node = node.func.value
    return calls


def _joins(calls: list[ast.Call]) -> bool:
    for call in calls:
        name = call.func.attr
        if name == "select_related":
            return True
        if name in QUERY_METHODS:
            for keyword in call.keywords:
                parts = (keyword.arg or "").split("__")
                if len(parts) > 1 and (parts[-1] not in LOOKUPS or len(parts) > 2):
                    return True
    return False


def _unscoped_locks() -> list[str]:
    found = []
    for app in project_apps():
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            outermost = {
                id(c) for node in ast.walk(tree) if isinstance(node, ast.Call) for c in _chain(node)[1:]
            }
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or id(node) in outermost:
                    continue
                calls = _chain(node)
                locks = [c for c in calls if c.func.attr == "select_for_update"]
                if not locks or not _joins(calls):
                    continue
                if not any(k.arg == "of" for k in locks[0].keywords):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_it_finds_no_lock_on_a_join_without_of_self():
    assert _unscoped_locks() == []


def test_the_scan_sees_a_lock_on_a_join(tmp_path):
    sample = ast.parse('Execution.objects.select_for_update().select_related("business").get(pk=1)')
    call = sample.body[0].value
    assert _joins(_chain(call))
