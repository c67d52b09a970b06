"""The frame every page shares: sign-in, the business switcher, the navigation."""

import pytest

from console.pages import PAGES
from governance.roles import Role

pytestmark = pytest.mark.django_db

GLOBAL_PAGES = [p for p in PAGES if not p.per_business]


@pytest.mark.parametrize("page", GLOBAL_PAGES, ids=lambda p: p.key)
def test_it_sends_anonymous_visitors_to_sign_in(client, page):
    response = client.get(page.url())
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("page", GLOBAL_PAGES, ids=lambda p: p.key)
def test_it_renders_every_global_page_for_a_member(viewer_page, page):
    response = viewer_page.get(page.url())
    assert response.status_code == 200
    assert b'aria-label="Pages"' in response.content


def test_it_answers_with_or_without_a_trailing_slash(viewer_page):
    assert viewer_page.get("/control/").status_code == 200
    assert viewer_page.get("/control").status_code == 200


def test_it_lists_only_the_users_businesses_in_the_switcher(viewer_page, other_business):
    body = viewer_page.get("/control").content.decode()
    assert "Acme" in body
    assert "Globex" not in body


def test_it_narrows_pages_to_the_chosen_business(make_member, business, other_business):
    from tests.console.conftest import signed_in

    user = make_member(Role.VIEWER, business)
    from governance.models import Membership

    Membership.objects.create(user=user, business=other_business, role=Role.VIEWER)
    client = signed_in(user)
    response = client.post("/console/scope", {"business": "globex", "next": "/agents"})
    assert response.status_code == 302
    assert response["Location"] == "/agents"
    assert client.session["mc_business"] == "globex"
    client.post("/console/scope", {"business": "", "next": "/agents"})
    assert "mc_business" not in client.session


def test_it_refuses_to_switch_to_a_strangers_business(viewer_page, other_business):
    response = viewer_page.post("/console/scope", {"business": "globex", "next": "/control"})
    assert response.status_code == 404
    assert "mc_business" not in viewer_page.session


def test_it_never_redirects_the_switcher_off_site(viewer_page):
    response = viewer_page.post("/console/scope", {"business": "", "next": "https://evil.example/"})
    assert response["Location"] == "/control"


def test_it_links_every_page_from_the_navigation(viewer_page):
    body = viewer_page.get("/control").content.decode()
    for page in PAGES:
        assert f'href="{page.url("acme")}"' in body


def test_it_ships_htmx_and_the_live_script_from_the_app_itself(viewer_page):
    body = viewer_page.get("/control").content.decode()
    assert "/static/vendor/htmx/htmx-2.0.11.min.js" in body
    assert "/static/mc/live.js" in body
    assert "https://" not in body.split("<body")[0]  # no CDN in the head


def test_it_starts_the_live_stream_after_the_last_event_committed(viewer_page, business, other_business):
    from mission_control.events import publish

    publish(kind="x.y", business=business)
    newest = publish(kind="x.y", business=other_business)
    body = viewer_page.get("/control").content.decode()
    # A position in the whole stream (mission_control.stream): the socket sends only this user's events
    # after it, and no event committing later with a lower id is skipped.
    assert f'data-last-event-id="{newest.pk}"' in body


def test_the_sign_in_page_signs_in_and_returns_to_the_page_asked_for(client, make_member, business):
    make_member("viewer", business, username="vera")
    page = client.get("/login/?next=/agents").content.decode()
    assert "continue to <code>/agents</code>" in page
    response = client.post("/login/", {"username": "vera", "password": "pw-secret-123", "next": "/agents"})
    assert response.status_code == 302
    assert response["Location"] == "/agents"


def test_the_sign_in_page_says_when_the_password_is_wrong(client, make_member, business):
    make_member("viewer", business, username="vera")
    body = client.post("/login/", {"username": "vera", "password": "nope"}).content.decode()
    assert "Wrong username or password" in body
    assert 'value="vera"' in body
