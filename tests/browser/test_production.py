"""Production settings (DEBUG=0) in Chromium: plain HTTP with MC_HTTPS=0 (``manage.py serve``), and
HTTPS at daphne itself with the default production settings (a TLS endpoint, a throwaway
certificate). In each, a person signs in, opens every page, switches business and acts from a page.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import free_port
from tests.e2e.production import PASSWORD, start_production_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUPS = {
    "plain-http": {"MC_HTTPS": "0"},
    "https-at-daphne": {"tls": True},
}


@pytest.fixture(scope="module", params=list(SETUPS))
def production(request, browser, tmp_path_factory):
    server = start_production_server(
        tmp_path_factory.mktemp(request.param), free_port(), **SETUPS[request.param]
    )
    server.setup = request.param
    yield server
    server.stop()


@pytest.fixture
def tab(browser, production):
    # The suite's one Chromium (two Playwright instances cannot share a thread).
    context = browser.new_context(
        base_url=production.url, ignore_https_errors=True, viewport={"width": 1440, "height": 900}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def sign_in(tab, production) -> None:
    tab.goto("/login/")
    tab.get_by_label("Username").fill(production.seed["owner"])
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/control")


@pytest.mark.timeout(400)
def test_it_signs_in_and_opens_every_page(tab, production):
    sign_in(tab, production)
    cookies = {c["name"]: c for c in tab.context.cookies()}
    https = production.setup == "https-at-daphne"
    assert cookies["sessionid"]["secure"] is https and cookies["csrftoken"]["secure"] is https
    for path in production.page_paths():
        response = tab.goto(path)
        assert response.status == 200, (production.setup, path, response.status)
        assert ("strict-transport-security" in response.headers) is https, path
        expect(tab.locator("body")).not_to_contain_text("Server Error")


@pytest.mark.timeout(400)
def test_it_switches_business_and_acts_from_the_pages(tab, production):
    sign_in(tab, production)
    tab.goto("/global/costs")
    tab.select_option("#business-select", production.seed["business"])
    tab.wait_for_url("**/global/costs")
    expect(tab.locator("#business-select")).to_have_value(production.seed["business"])
    tab.select_option("#business-select", "")
    tab.wait_for_url("**/global/costs")
    expect(tab.locator("#business-select")).to_have_value("")

    # A form that posts to the API with the session and its CSRF token.
    tab.goto(f"/{production.seed['business']}/epics")
    tab.get_by_text("New epic").click()
    tab.get_by_label("Title").fill(f"Launched over {production.setup}")
    tab.get_by_role("button", name="Create epic").click()
    expect(tab.locator("main")).to_contain_text(f"Launched over {production.setup}")

    # An htmx POST to the console itself.
    tab.goto("/global/workflows")
    tab.get_by_text("New workflow").click()
    tab.get_by_role("button", name="Check and draw").click()
    expect(tab.locator("#wf-preview")).to_contain_text(re.compile(r"Valid: \d+ steps"))

    # Signing out is a POST too.
    tab.get_by_role("button", name=re.compile("Sign out")).click()
    tab.goto("/control")
    expect(tab).to_have_url(re.compile(r"/login/\?next=/control"))
