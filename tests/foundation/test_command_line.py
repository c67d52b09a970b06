"""The command line a newcomer meets: dev.py, manage.py without Django, serve --help, the favicon."""

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DB_NAME"}}
    clean.update(env)
    return subprocess.run(args, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def lists_commands_and_options(text: str) -> bool:
    return all(word in text for word in ("up", "test", "install", "--no-fleet", "PORT"))


def test_it_lists_the_commands_and_says_none_was_given():
    out = run(sys.executable, "dev.py")
    assert out.returncode == 2
    assert lists_commands_and_options(out.stderr)
    assert "error: no command given" in out.stderr


def test_it_names_an_unknown_command():
    out = run(sys.executable, "dev.py", "start")
    assert out.returncode == 2
    assert lists_commands_and_options(out.stderr)
    assert "unknown command 'start'" in out.stderr


def test_it_prints_the_help_on_request():
    for flag in ("--help", "-h", "help"):
        out = run(sys.executable, "dev.py", flag)
        assert out.returncode == 0, flag
        assert lists_commands_and_options(out.stdout), flag
        assert out.stderr == ""


def test_it_refuses_an_unknown_option_before_installing_anything(tmp_path):
    # A port and var/ of its own, should it ever start anything after all.
    out = run(sys.executable, "dev.py", "up", "--nofleet", PORT=str(free_port()), MC_VAR_DIR=str(tmp_path))
    assert out.returncode == 2
    assert "unknown option --nofleet" in out.stderr
    assert "+ " not in out.stdout  # nothing was run


def test_manage_py_without_django_says_which_python_to_use():
    # -S: no site-packages, so Django cannot be imported, as with a system Python.
    out = run(sys.executable, "-S", "manage.py", "migrate")
    assert out.returncode == 1
    assert ".venv/bin/python manage.py migrate" in out.stderr
    assert "dev.py" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_help_describes_its_options_and_defaults_and_announces_nothing():
    out = run(sys.executable, "manage.py", "serve", "--help", MC_TESTING="0")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    for expected in (
        "--host HOST address to listen on",
        "(default: $HOST or 127.0.0.1)",
        "--port PORT port to listen on (default: $PORT or 8000)",
        "--concurrency CONCURRENCY tasks the worker runs at once",
        "(default: 4)",
        "--no-beat run no beat here",
        "Ctrl+C or SIGTERM stops all of them",
    ):
        assert expected in text, expected
    assert "Embedded default: SQLite" not in out.stdout + out.stderr
    assert "No hostname was supplied" not in out.stdout + out.stderr


def test_other_commands_do_not_announce_the_embedded_default():
    out = run(sys.executable, "manage.py", "check", MC_TESTING="0")
    assert out.returncode == 0, out.stderr
    assert "Embedded default: SQLite" not in out.stdout + out.stderr


def test_it_answers_the_favicon_at_the_root_and_links_it_from_every_page(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/login/")
    assert b'rel="icon" href="/favicon.ico"' in page.content
    assert b'rel="icon" href="/static/mc/favicon.svg"' in page.content
    assert client.get("/static/mc/favicon.svg").status_code == 200
