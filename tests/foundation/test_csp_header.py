"""The Content-Security-Policy header (issue 12, item 5): strict on every page."""

import pytest


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/", "/api/docs/"])
def test_every_page_carries_a_strict_policy(client, path):
    policy = directives(client.get(path))
    assert policy["default-src"] == "default-src 'self'"
    assert policy["script-src"].startswith("script-src 'self'")
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    assert policy["style-src"] == "style-src 'self'"
    assert policy["object-src"] == "object-src 'none'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["base-uri"] == "base-uri 'self'"


@pytest.mark.django_db
def test_a_page_with_an_inline_script_gets_a_fresh_nonce(client, make_member, business):
    user = make_member("owner", business)
    client.force_login(user)
    first, second = (client.get(f"/{business.slug}/epics") for _ in range(2))
    nonces = [directives(r)["script-src"].split("'nonce-")[1].rstrip("'") for r in (first, second)]
    assert nonces[0] != nonces[1]
    assert f'<script nonce="{nonces[0]}">' in first.content.decode()


@pytest.mark.django_db
def test_the_swagger_page_has_no_inline_script(client):
    body = client.get("/api/docs/").content.decode()
    assert "<script>" not in body and "<style>" not in body
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")


@pytest.mark.django_db
def test_redoc_alone_may_inject_styles_and_loads_no_fonts_from_elsewhere(client):
    response = client.get("/api/redoc/")
    policy = directives(response)
    assert policy["style-src"] == "style-src 'self' 'unsafe-inline'"
    assert policy["worker-src"] == "worker-src blob:"
    assert "googleapis" not in response.content.decode()


@pytest.mark.django_db
def test_the_redoc_bundle_is_served_without_its_remote_logo(client):
    body = client.get("/api/redoc/").content.decode()
    assert '<script src="/api/redoc-dist/bundles/redoc.standalone.js">' in body
    bundle = client.get("/api/redoc-dist/bundles/redoc.standalone.js")
    assert bundle.status_code == 200 and bundle["Content-Type"].startswith("application/javascript")
    assert b"cdn.redoc.ly" not in bundle.content and b"Redoc" in bundle.content
