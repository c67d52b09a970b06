"""Settings in both modes, checked in fresh interpreters so the environment really decides."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
from mission_control.celery import app
print(json.dumps({
    "embedded": settings.EMBEDDED,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": app.conf.broker_url,
    "debug": settings.DEBUG,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "proxy_header": settings.SECURE_PROXY_SSL_HEADER,
    "secure_cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
    "hsts": settings.SECURE_HSTS_SECONDS,
}))
"""


def probe(tmp_path, **env) -> dict:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}
    }
    clean.update(DJANGO_SETTINGS_MODULE="mission_control.settings", MC_VAR_DIR=str(tmp_path), **env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_it_runs_on_the_embedded_default_with_nothing_set(tmp_path):
    result = probe(tmp_path)
    assert result["embedded"] is True
    assert result["engine"] == "django.db.backends.sqlite3"
    assert result["cache"].endswith("LocMemCache")
    assert result["layer"] == "channels.layers.InMemoryChannelLayer"
    assert result["broker"] == "memory://localhost/"


def test_it_uses_postgresql_and_redis_when_configured(tmp_path):
    result = probe(
        tmp_path, DATABASE_URL="postgres://u@db.example:5432/mc", REDIS_URL="redis://cache.example:6379/0"
    )
    assert result["embedded"] is False
    assert result["engine"] == "django.db.backends.postgresql"
    assert result["cache"].endswith("RedisCache")
    assert result["layer"] == "channels_redis.core.RedisChannelLayer"
    assert result["broker"] == "redis://cache.example:6379/0"


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as err:
        probe(tmp_path, DEBUG="0", MC_TESTING="0")
    assert "SECRET_KEY must be set" in err.value.stderr


PRODUCTION = {"DEBUG": "0", "MC_TESTING": "0", "SECRET_KEY": "k" * 60}


def test_it_serves_production_over_https_and_trusts_no_proxy_header_by_default(tmp_path):
    result = probe(tmp_path, **PRODUCTION)
    assert result["ssl_redirect"] is True
    assert result["secure_cookies"] == [True, True]
    assert result["hsts"] == 31536000
    # Without a declared proxy, a client's X-Forwarded-Proto would pass plain HTTP off as HTTPS.
    assert result["proxy_header"] is None


def test_it_trusts_the_scheme_header_of_a_declared_tls_proxy(tmp_path):
    result = probe(tmp_path, MC_TLS_PROXY_HEADER="X-Forwarded-Proto", **PRODUCTION)
    assert result["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert result["ssl_redirect"] is True


def test_it_runs_production_on_plain_http_when_told_to(tmp_path):
    result = probe(tmp_path, MC_HTTPS="0", **PRODUCTION)
    assert result["ssl_redirect"] is False
    assert result["secure_cookies"] == [False, False]  # a browser keeps them over plain HTTP
    assert result["hsts"] == 0
    assert result["proxy_header"] is None


def test_it_keeps_an_explicit_ssl_redirect_choice(tmp_path):
    assert probe(tmp_path, SECURE_SSL_REDIRECT="0", **PRODUCTION)["ssl_redirect"] is False


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DEBUG="0",
        SECRET_KEY="x" * 64 + "-prod-like-secret-key-with-enough-entropy-1234567890",
        ALLOWED_HOSTS="mc.example.com",
        DATABASE_URL="postgres://u@db.example:5432/mc",
        REDIS_URL="redis://cache.example:6379/0",
        MC_VAR_DIR=str(tmp_path),
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_it_logs_json_with_the_request_id_in_production_format(tmp_path):
    code = (
        "import django, logging; django.setup();"
        "from mission_control.logging import log_context;"
        "\nwith log_context(request_id='req-1', business=3, agent=9):\n"
        "    logging.getLogger('mc.test').warning('hello')"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="mission_control.settings", LOG_FORMAT="json", MC_VAR_DIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    line = json.loads(out.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["request_id"] == "req-1"
    assert line["business"] == 3
    assert line["agent"] == 9
    assert line["level"] == "WARNING"
