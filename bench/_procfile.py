"""The Procfile's commands as argv lists, so benchmarks and tests run exactly what a deployment runs."""

import os
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_VAR = re.compile(r"\$\{(\w+):-([^}]*)\}|\$\{(\w+)\}")


def command(name: str, env: dict | None = None) -> list[str]:
    """Process ``name``'s command with ``${VAR:-default}`` expanded from ``env``; the program runs
    from this interpreter's environment (``python -m granian``), whatever the PATH says."""
    env = os.environ if env is None else env
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, cmd = line.partition(":")
        if key.strip() == name:
            expanded = _VAR.sub(lambda m: env.get(m.group(1) or m.group(3)) or (m.group(2) or ""), cmd)
            argv = shlex.split(expanded)
            if argv[0] in {"granian", "daphne", "celery", "gunicorn"}:
                argv = [sys.executable, "-m", argv[0], *argv[1:]]
            return argv
    raise KeyError(f"no {name!r} process in the Procfile")
