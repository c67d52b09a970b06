"""Sign in, visit every page, watch the live stream, use the palette: in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from console.pages import PAGES
from tests.browser.conftest import shoot, sign_in, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# Every visible form control must have an accessible name (a label, aria-label or aria-labelledby).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && !el.closest('#swagger-ui'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""


def page_path(page_def, business: str) -> str:
    return page_def.url(business) if page_def.per_business else page_def.url()


def test_it_signs_in_and_shows_every_page(page, server):
    for page_def in PAGES:
        response = page.goto(page_path(page_def, server.seed["business"]))
        assert response.status == 200, page_def.key
        expect(page.locator("main h1").first).to_be_visible()
        expect(page.locator('nav[aria-label="Pages"] a[aria-current="page"]')).to_have_count(1)
        assert page.evaluate(UNLABELLED) == [], page_def.key
        if page_def.key == "api-docs":  # Swagger UI (the sidecar's, served by the app) renders the schema
            expect(page.locator("#swagger-ui .info .title")).to_contain_text("Mission Control API")
        shoot(page, page_def.key)
    # One of each detail page too.
    for name, path in [
        ("agent", f"/agents/{server.seed['agent_id']}"),
        ("execution-failed", f"/global/executions/{server.seed['failed_execution']}"),
        ("brain-document", "/global/brain?q=refund&doc=1"),
    ]:
        assert page.goto(path).status == 200, path
        expect(page.locator("main h1").first).to_be_visible()
        shoot(page, name)
    shoot_login(page, server)


def shoot_login(page, server) -> None:
    page.context.clear_cookies()
    page.goto("/login/")
    shoot(page, "login")


def test_it_sends_a_signed_out_visitor_to_sign_in_and_back(browser, server):
    context = browser.new_context(base_url=server.url)
    tab = context.new_page()
    tab.goto("/agents")
    expect(tab).to_have_url(re.compile(r"/login/\?next=/agents"))
    tab.get_by_label("Username").fill(server.seed["owner"])
    tab.get_by_label("Password").fill("pw-browser-123")
    tab.get_by_role("button", name="Sign in").click()
    expect(tab).to_have_url(re.compile(r"/agents$"))
    context.close()


def test_it_never_shows_another_business(page, server):
    page.goto("/agents")
    expect(page.get_by_role("link", name="coder-1")).to_be_visible()
    expect(page.get_by_text("globex-secret-agent")).to_have_count(0)
    expect(page.locator("#business-select option")).to_have_text(["All businesses (1)", "Acme Robotics"])


def test_a_live_event_appears_on_the_activity_page_and_catches_up_after_a_drop(page, server):
    page.goto("/global/activity")
    wait_live(page)
    api = server.api()
    agent = server.seed["agent_id"]
    assert api.post(f"/api/v1/agents/{agent}/stop").status_code == 202
    first = page.locator("#event-list li", has_text="agent.stopped").first
    expect(first).to_be_visible()

    # The connection drops; what happens meanwhile arrives once it is back (after=<last id>).
    page.evaluate("MC.live.drop()")
    page.wait_for_function("() => MC.live.state !== 'open'")
    assert api.post(f"/api/v1/agents/{agent}/start").status_code == 202
    wait_live(page)
    expect(page.locator("#event-list li", has_text="agent.started").first).to_be_visible()
    shoot(page, "activity-live")


def test_the_page_acks_what_it_processed(page, server):
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto("/global/activity")
    wait_live(page)
    assert server.api().post(f"/api/v1/agents/{server.seed['agent_id']}/restart").status_code == 202
    expect(page.locator("#event-list li", has_text="agent.restarted").first).to_be_visible()
    last = page.evaluate("() => MC.live.lastId")
    for _ in range(50):  # acks go out within 250 ms of a burst
        if f'{{"type":"ack","id":{last}}}' in sent:
            break
        page.wait_for_timeout(100)
    assert f'{{"type":"ack","id":{last}}}' in sent


def test_signing_out_in_another_tab_closes_the_live_stream(browser, server):
    context = browser.new_context(base_url=server.url)  # its own session: others keep theirs
    watching = context.new_page()
    sign_in(watching, server.seed["viewer"])
    watching.goto("/global/activity")
    wait_live(watching)
    other = context.new_page()
    other.goto("/control")
    other.get_by_role("button", name=re.compile("Sign out")).click()
    # The server re-checks the socket at once and closes it with 4401; the page stops retrying.
    expect(watching.locator("#live-status")).to_have_text("Signed out", timeout=5_000)
    context.close()


def test_pause_holds_new_events_until_resume(page, server):
    page.goto("/global/activity")
    wait_live(page)
    page.get_by_role("button", name="Pause").click()
    before = page.locator("#event-list li").count()
    assert server.api().post(f"/api/v1/agents/{server.seed['agent_id']}/restart").status_code == 202
    expect(page.locator("#activity-counter")).to_have_text(re.compile(r"1 new event"))
    assert page.locator("#event-list li").count() == before
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#event-list li", has_text="agent.restarted").first).to_be_visible()


def test_the_palette_opens_with_the_keyboard_and_acts(page, server):
    page.goto("/control")
    page.keyboard.press("Control+k")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("combobox")).to_be_focused()
    page.keyboard.type("restart cdr")
    expect(dialog.get_by_role("option").first).to_have_text(re.compile("Restart agent coder-1"))
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#toasts")).to_contain_text("Restart sent to coder-1")
    events = server.api().get(f"/api/v1/events?agent={server.seed['agent_id']}&kind=agent.restarted").json()
    assert events["results"][0]["actor"] == server.seed["owner"]


def test_the_palette_jumps_to_a_page(page):
    page.goto("/control")
    page.keyboard.press("Control+k")
    page.keyboard.type("activty")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/global/activity$"))
    shoot(page, "palette-after-jump")


def test_the_palette_closes_with_escape_and_gives_focus_back(page):
    page.goto("/agents")
    opener = page.locator("[data-palette-open]")
    opener.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    shoot(page, "palette")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(opener).to_be_focused()


def test_a_viewer_sees_no_controls(browser, server):
    context = browser.new_context(base_url=server.url)
    tab = context.new_page()
    sign_in(tab, server.seed["viewer"])
    tab.goto("/agents")
    expect(tab.get_by_role("link", name="coder-1")).to_be_visible()
    expect(tab.get_by_role("button", name=re.compile("^(Stop|Start|Restart) "))).to_have_count(0)
    context.close()


def test_the_palette_engages_the_emergency_stop_with_a_reason_by_keyboard_alone(page, server):
    page.goto("/agents")
    page.keyboard.press("Control+k")
    page.keyboard.type("emergency acme")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("option").first).to_have_text(re.compile("Emergency stop: Acme Robotics"))
    page.keyboard.press("Enter")
    reason = dialog.get_by_label("Why stop? (recorded in the audit log)")
    expect(reason).to_be_focused()
    page.keyboard.press("Enter")  # no reason yet: refused on the spot
    expect(reason).to_have_attribute("aria-invalid", "true")
    page.keyboard.type("Palette test")
    page.keyboard.press("Enter")
    expect(page.locator("#toasts")).to_contain_text("Emergency stop engaged for Acme Robotics")
    api = server.api()
    try:
        status = api.get("/api/v1/emergency-stop?business=acme").json()
        assert status["engaged"] is True
        assert status["stop"]["reason"] == "Palette test"
    finally:
        assert api.post("/api/v1/emergency-stop/release", json={"business": "acme"}).status_code == 200
