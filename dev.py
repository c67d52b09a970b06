#!/usr/bin/env python3
"""Two commands for a fresh machine with nothing but Python 3.11+:

    python3 dev.py up     # install, migrate, seed the demo, run web + worker + beat + a simulated fleet
    python3 dev.py test   # run the whole test suite

Everything goes into ./.venv from the lock file. DATABASE_URL / REDIS_URL switch from the
embedded default (SQLite, in-process broker and channel layer) to PostgreSQL and Redis.
"""

import os
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".installed-lock"


def run(*cmd: str, **kwargs) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)


def install() -> None:
    if not PY.exists():
        print("Creating .venv …", flush=True)
        venv.create(VENV, with_pip=True)
    lock = (ROOT / "requirements.lock").read_text()
    if STAMP.exists() and STAMP.read_text() == lock:
        return
    run(str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.lock")
    STAMP.write_text(lock)


def manage(*args: str, **kwargs) -> None:
    run(str(PY), "manage.py", *args, **kwargs)


def up(argv: list[str]) -> None:
    install()
    manage("migrate", "--noinput")
    manage("demo")
    port = os.environ.get("PORT", "8000")
    server = subprocess.Popen([str(PY), "manage.py", "serve", "--port", port], cwd=ROOT)
    fleet = None
    if "--no-fleet" not in argv:
        fleet = subprocess.Popen(
            [str(PY), "manage.py", "simulate", "--url", f"http://127.0.0.1:{port}", "--wait"], cwd=ROOT
        )
    print(f"\n  Mission Control: http://127.0.0.1:{port}/  — press Ctrl+C to stop.\n", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for proc in (fleet, server):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (fleet, server):
            if proc:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test(argv: list[str]) -> None:
    install()
    if shutil.which("chromium") is None and not os.environ.get("REQUIRE_SERVICES"):
        print("(chromium not found: browser tests will be skipped; `apt-get install chromium` runs them)")
    os.execv(str(PY), [str(PY), "-m", "pytest", *argv])  # noqa: S606


COMMANDS = {"up": up, "test": test, "install": lambda argv: install()}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
