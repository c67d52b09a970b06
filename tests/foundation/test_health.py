import pytest

from mission_control import health


@pytest.mark.django_db
def test_it_reports_every_dependency_ok(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_it_answers_with_and_without_trailing_slash(client):
    assert client.get("/api/v1/health/").status_code == 200


@pytest.mark.django_db
def test_it_answers_503_naming_a_dead_cache(client, monkeypatch):
    def broken():
        raise ConnectionError("cache down")

    monkeypatch.setitem(health.CHECKS, "cache", broken)
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["cache"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"].startswith("error")
    assert body["error"] == "dependency_down"


@pytest.mark.django_db
def test_it_answers_503_when_the_broker_is_unreachable(client, settings):
    from mission_control.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/api/v1/health")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


@pytest.mark.django_db
def test_it_answers_503_when_the_database_is_down(client, monkeypatch):
    from django.db import OperationalError

    def broken():
        raise OperationalError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert "database" in response.json()["detail"]


@pytest.mark.redis
@pytest.mark.django_db
def test_it_checks_the_real_redis_cache_and_broker(client, settings):
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    response = client.get("/api/v1/health")
    assert response.status_code == 200, response.json()
