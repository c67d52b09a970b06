#!/usr/bin/env python3
"""Mission Control on a fresh machine with nothing but Python 3.11+.

usage: python3 dev.py <command> [options]

commands:
  up [--no-fleet]   install, migrate, seed the demo, then run web + worker + beat (manage.py serve)
                    and a simulated fleet of agents; Ctrl+C stops everything
      --no-fleet    run no simulated fleet
  test [ARGS...]    run the test suite; ARGS go to pytest (e.g. `test tests/console -x`)
  install           create .venv from requirements.lock (up and test do it first)

environment:
  PORT                     web port for `up` (default 8000)
  DATABASE_URL, REDIS_URL  PostgreSQL and Redis instead of the embedded default (SQLite,
                           in-process broker and channel layer)

Everything goes into ./.venv; run Django's own commands with `.venv/bin/python manage.py ...`.
"""

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".installed-lock"
STOP_S = 4.6  # `up`: from Ctrl+C or SIGTERM to the last child gone (serve takes at most 4)
USAGE = __doc__.split("\n\n", 1)[1]
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


class Interrupted(Exception):
    """Ctrl+C or SIGTERM."""


class UsageError(Exception):
    pass


_interrupted = []


def _interrupt(signum, frame):
    # Once: Ctrl+C reaches dev.py and its children together, and a second signal must not cut
    # short the stop the first one began.
    if not _interrupted:
        _interrupted.append(signum)
        raise Interrupted


def _die_with_parent() -> None:
    # In the child before exec (Linux): SIGTERM when dev.py dies, even by SIGKILL.
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def run(*cmd: str, **kwargs) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)


def install_stamp() -> str:
    """What .venv was installed from: a change to either file installs again."""
    return (ROOT / "requirements.lock").read_text() + (ROOT / "sdk" / "pyproject.toml").read_text()


def install(argv: list[str] | None = None) -> None:
    if argv:
        raise UsageError(f"install takes no arguments (got {' '.join(argv)})")
    if not PY.exists():
        print("Creating .venv …", flush=True)
        venv.create(VENV, with_pip=True)
    lock = install_stamp()
    if STAMP.exists() and STAMP.read_text() == lock:
        return
    # The server's pinned dependencies, then the agent SDK (its own package in sdk/, used by the
    # simulated fleet and the tests) as an editable install: its dependency, httpx, is in the lock.
    pip = (str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    run(*pip, "-r", "requirements.lock")
    run(*pip, "--no-deps", "-e", "./sdk")
    STAMP.write_text(lock)


def manage(*args: str, **kwargs) -> None:
    run(str(PY), "manage.py", *args, **kwargs)


def up(argv: list[str]) -> None:
    unknown = [a for a in argv if a != "--no-fleet"]
    if unknown:
        raise UsageError(f"up: unknown option {' '.join(unknown)} (up takes --no-fleet)")
    install()
    manage("migrate", "--noinput")
    manage("demo")
    port = os.environ.get("PORT", "8000")
    server = subprocess.Popen(
        [str(PY), "manage.py", "serve", "--port", port], cwd=ROOT, preexec_fn=_die_with_parent
    )
    children = [("serve", server)]
    if "--no-fleet" not in argv:
        fleet = [str(PY), "manage.py", "simulate", "--url", f"http://127.0.0.1:{port}", "--wait"]
        children.insert(0, ("simulate", subprocess.Popen(fleet, cwd=ROOT, preexec_fn=_die_with_parent)))
    print(f"\n  Mission Control: http://127.0.0.1:{port}/  — press Ctrl+C to stop.\n", flush=True)
    try:
        while server.poll() is None:  # the fleet may end on its own; the server is the point
            time.sleep(0.2)
    except Interrupted:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop(children)
    for name, proc in children:
        if proc.returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
            sys.exit(f"{name} exited with status {proc.returncode}")


def stop(children: list[tuple[str, subprocess.Popen]]) -> None:
    """SIGTERM to each (a Ctrl+C on the terminal has reached them already); whatever is still
    running at the deadline is killed."""
    deadline = time.monotonic() + STOP_S
    for _, proc in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for name, proc in children:
        if not _wait(proc, deadline - time.monotonic()):
            print(f"{name} did not stop in time; killed", file=sys.stderr, flush=True)
            proc.kill()
            proc.wait()


def _wait(proc: subprocess.Popen, timeout: float) -> bool:
    try:
        proc.wait(max(timeout, 0))
        return True
    except subprocess.TimeoutExpired:
        return False


def test(argv: list[str]) -> None:
    install()
    if shutil.which("chromium") is None and not os.environ.get("REQUIRE_SERVICES"):
        print("(chromium not found: browser tests will be skipped; `apt-get install chromium` runs them)")
    os.execv(str(PY), [str(PY), "-m", "pytest", *argv])  # noqa: S606


COMMANDS = {"up": up, "test": test, "install": install}


def main(argv: list[str]) -> int:
    if argv and argv[0] in {"-h", "--help", "help"}:
        print(USAGE, end="")
        return 0
    if not argv:
        problem = "no command given"
    elif argv[0] not in COMMANDS:
        problem = f"unknown command {argv[0]!r}"
    else:
        problem = None
    if problem:
        print(f"{USAGE}\ndev.py: error: {problem} (choose up, test or install)", file=sys.stderr)
        return 2
    if argv[0] != "test" and any(a in {"-h", "--help"} for a in argv[1:]):
        print(USAGE, end="")
        return 0
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        COMMANDS[argv[0]](argv[1:])
    except UsageError as exc:
        print(f"{USAGE}\ndev.py: error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"dev.py: `{' '.join(map(str, exc.cmd))}` failed with status {exc.returncode}", file=sys.stderr)
        return 1
    except (Interrupted, KeyboardInterrupt):
        print("dev.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
