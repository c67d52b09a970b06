"""Every knob exists: declared once in mission_control/settings.py, read from the environment there,
listed in the README; the code reads it as a plain setting (no getattr default hiding a missing one),
and importing the settings makes no folder."""

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "mission_control" / "settings.py"
NOT_SERVER_CODE = {".venv", "tests", "docs", "static", "templates", "node_modules"}
ENV_READERS = {"get", "env_bool", "env_list"}  # os.environ.get(...), env_bool(...), env_list(...)


def _settings_tree():
    return ast.parse(SETTINGS.read_text())


def _declared() -> set[str]:
    names = set()
    for node in _settings_tree().body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _env_read_in_settings() -> set[str]:
    names = set()
    for node in ast.walk(_settings_tree()):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            callee = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if callee in ENV_READERS and str(node.args[0].value).startswith("MC_"):
                names.add(node.args[0].value)
    return names


def _reads_in_code() -> dict[str, list[str]]:
    """``settings.MC_X``, ``getattr(settings, "MC_X"...)`` and ``*_setting = "MC_X"`` (a view naming
    its limit), with where each is read."""
    reads: dict[str, list[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in NOT_SERVER_CODE or rel.parts[0].startswith(".") or path == SETTINGS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = None
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "settings":
                name = node.attr
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr":
                args = node.args
                if len(args) >= 2 and getattr(args[0], "id", None) == "settings":
                    name = getattr(args[1], "value", None)
            elif (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and any(getattr(t, "id", "").endswith("_setting") for t in node.targets)
            ):
                name = node.value.value
            if isinstance(name, str) and name.startswith("MC_"):
                reads.setdefault(name, []).append(f"{rel}:{node.lineno}")
    return reads


def test_it_declares_every_mc_setting_the_code_reads():
    reads = _reads_in_code()
    assert "MC_PUBLIC_URL" in reads and "MC_MAX_HOOK_BYTES" in reads  # the scan sees the code
    assert "MC_AUTOSCALE_KEEP_DAYS" in reads  # read by the autoscaling sweep's pruning
    missing = {name: where for name, where in reads.items() if name not in _declared()}
    assert missing == {}


def test_it_lists_every_knob_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    knobs = set(_reads_in_code()) | _env_read_in_settings()
    assert sorted(name for name in knobs if f"`{name}`" not in readme) == []


def test_it_reads_no_setting_through_a_getattr_default():
    defaulted = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in NOT_SERVER_CODE or rel.parts[0].startswith("."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "getattr"
                and len(node.args) == 3
                and getattr(node.args[0], "id", None) == "settings"
            ):
                defaulted.append(f"{rel}:{node.lineno}")
    assert defaulted == []


def test_it_makes_no_folder_when_the_settings_are_imported(tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="mission_control.settings", MC_VAR_DIR=str(var))
    probe = (
        "import os, django; from django.conf import settings; settings.INSTALLED_APPS; "
        f"print(os.path.exists({str(var)!r})); django.setup(); print(os.path.exists({str(var)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["False", "True"], out.stderr
