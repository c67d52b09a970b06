"""Password guessing on every sign-in path (issue 12, item 1): the attacks, kept as tests."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from governance.models import AuditEntry

T0 = datetime(2026, 5, 4, 10, 0, 5, tzinfo=UTC)
TOKEN = "/api/v1/auth/token"
RIGHT = "pw-secret-123"


@pytest.fixture
def carol(make_member, business):
    return make_member("admin", business, username="carol", is_staff=True)


def token_attempt(password: str, address: str = "203.0.113.9", **headers):
    return APIClient().post(
        TOKEN, {"username": "carol", "password": password}, format="json", REMOTE_ADDR=address, **headers
    )


def page_attempt(path: str, password: str, address: str = "203.0.113.9"):
    client = Client()
    response = client.post(path, {"username": "carol", "password": password}, REMOTE_ADDR=address)
    return client, response


@pytest.mark.django_db
def test_it_ignores_spoofed_forwarded_addresses_without_a_trusted_proxy(carol, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "30/min"}}
    settings.MC_LOGIN_LOCKOUT_FAILURES = 1000
    with time_machine.travel(T0, tick=False):
        codes = [
            token_attempt("wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(1, 201)
        ]
    assert codes[:30] == [401] * 30
    assert set(codes[30:]) == {429}


@pytest.mark.django_db
def test_it_answers_429_with_retry_after_on_the_api(carol):
    with time_machine.travel(T0, tick=False):
        codes = [token_attempt("wrong").status_code for _ in range(5)]
        response = token_attempt(RIGHT)
    assert codes == [401] * 5
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert "Too many wrong passwords" in response.json()["detail"]
    assert response["Retry-After"] == "60" and response.json()["retry_after"] == 60


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_it_locks_the_sign_in_pages_after_wrong_passwords(carol, path):
    with time_machine.travel(T0, tick=False):
        for _ in range(50):
            page_attempt(path, "wrong")
        client, response = page_attempt(path, RIGHT)
        assert "_auth_user_id" not in client.session
    assert response.status_code == 200  # the form again, not a redirect into the console
    assert "Too many sign-in attempts from your address. Try again in" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_it_says_the_account_is_locked_from_this_address(carol, path):
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            page_attempt(path, "wrong")
        client, response = page_attempt(path, RIGHT)
        assert "_auth_user_id" not in client.session
    assert "Too many wrong passwords for this account from your address. Try again in 60 s." in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_a_guesser_elsewhere_does_not_lock_the_real_user_out(carol):
    with time_machine.travel(T0, tick=False):
        for _ in range(20):
            page_attempt("/login/", "wrong", address="198.51.100.66")
        client, response = page_attempt("/login/", RIGHT, address="203.0.113.20")
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(carol.pk)  # (the session expires with the clock)


@pytest.mark.django_db
def test_lockouts_are_short_and_grow(carol):
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            token_attempt("wrong")
        assert token_attempt(RIGHT).status_code == 429
    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        for _ in range(5):
            token_attempt("wrong")
        locked = token_attempt(RIGHT)
    assert locked.status_code == 429 and locked["Retry-After"] == "120"
    with time_machine.travel(T0 + timedelta(seconds=61 + 121), tick=False):
        assert token_attempt(RIGHT).status_code == 200


@pytest.mark.django_db
def test_a_right_password_resets_the_failures(carol):
    with time_machine.travel(T0, tick=False):
        for _ in range(4):
            token_attempt("wrong")
        assert token_attempt(RIGHT).status_code == 200
        for _ in range(4):
            token_attempt("wrong")
        assert token_attempt(RIGHT).status_code == 200


@pytest.mark.django_db
def test_guesses_spread_over_addresses_close_the_account_to_new_addresses_only(carol, settings):
    settings.MC_RATE_LOGIN_USERNAME = "10/hour"
    with time_machine.travel(T0, tick=False):
        assert token_attempt(RIGHT, address="203.0.113.20").status_code == 200  # carol's usual address
        for i in range(10):
            token_attempt("wrong", address=f"198.51.100.{i}")
        stranger = token_attempt(RIGHT, address="198.51.100.200")
        usual = token_attempt(RIGHT, address="203.0.113.20")
    assert stranger.status_code == 429
    assert "addresses it used before" in stranger.json()["detail"]
    assert usual.status_code == 200


@pytest.mark.django_db
def test_it_believes_forwarded_addresses_only_from_a_trusted_proxy(carol, settings):
    settings.MC_TRUSTED_PROXIES = ["10.0.0.0/8"]
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            token_attempt("wrong", address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66")
        # The same proxy, another client: not locked.
        other = token_attempt(RIGHT, address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.20")
        # The guesser prepending a fake hop does not escape: the proxy appended its real address.
        spoofed = token_attempt(RIGHT, address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.20, 198.51.100.66")
    assert other.status_code == 200
    assert spoofed.status_code == 429


@pytest.mark.django_db
def test_the_audit_log_records_the_client_address(carol, settings):
    settings.MC_TRUSTED_PROXIES = ["10.0.0.0/8"]
    client = APIClient()
    token = token_attempt(RIGHT, address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.77").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(
        "/api/v1/businesses", {"name": "Initech", "slug": "initech"}, format="json", REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 201
    client.post(
        "/api/v1/budgets",
        {"business": "initech", "limit_usd": "5", "period": "month"},
        format="json",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.77",
    )
    entry = AuditEntry.objects.filter(action__startswith="budget.").latest("id")
    assert entry.client_address == "203.0.113.77"
