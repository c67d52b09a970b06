"""Every page fits at 1280 and 1440 px: nothing scrolls sideways, nothing spills out of its card, and
no table or box cuts its content (truncation is allowed only with the full text in a tooltip).
The seed has long names (an agent, a cron job) so that spills show."""

import pytest

from console.pages import PAGES
from tests.browser.conftest import shoot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (1280, 1440)

# Problems on the page: a sideways scroll, an element outside its card, a box cutting its content.
OVERFLOWS = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) {
    problems.push(`the page scrolls sideways: ${doc.scrollWidth}px in ${doc.clientWidth}px`);
  }
  const label = el => (el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ' "' + (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40) + '"');
  for (const card of document.querySelectorAll('main .card')) {
    const box = card.getBoundingClientRect();
    if (!box.width) continue;
    const reported = [];
    for (const el of [card, ...card.querySelectorAll('*')]) {
      if (el.closest('.sr-only, .board, #swagger-ui, dialog:not([open]), details:not([open]) > :not(summary)')) continue;
      if (reported.some(outer => outer.contains(el))) continue;  // the outermost culprit says enough
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      if (el !== card && (r.right > box.right + 1 || r.left < box.left - 1)) {
        reported.push(el);
        problems.push(`${label(el)} spills out of card ${label(card).slice(0, 40)} (${Math.round(r.left)}-${Math.round(r.right)} outside ${Math.round(box.left)}-${Math.round(box.right)})`);
        continue;
      }
      const style = getComputedStyle(el);
      const clips = ['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX);
      const tooltip = style.textOverflow === 'ellipsis' && (el.title || el.closest('[title]'));
      if (clips && !tooltip && el.scrollWidth > el.clientWidth + 1) {
        reported.push(el);
        problems.push(`${label(el)} cuts its content: ${el.scrollWidth}px in ${el.clientWidth}px`);
      }
    }
  }
  return problems;
}"""


def paths(server) -> list[tuple[str, str]]:
    found = [
        (p.key, p.url(server.seed["business"]) if p.per_business else p.url())
        for p in PAGES
        if p.key != "api-docs"  # Swagger UI's own layout
    ]
    return [
        *found,
        ("agent", f"/agents/{server.seed['agent_id']}"),
        ("agent-long-name", f"/agents/{server.seed['long_agent_id']}"),
        ("execution-failed", f"/global/executions/{server.seed['failed_execution']}"),
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_it_fits_every_page_without_sideways_scroll_or_overflow(browser, server, owner_state, width):
    context = browser.new_context(
        base_url=server.url, viewport={"width": width, "height": 900}, storage_state=owner_state
    )
    tab = context.new_page()
    found = {}
    for key, path in paths(server):
        assert tab.goto(path).status == 200, path
        tab.wait_for_load_state("networkidle")
        problems = tab.evaluate(OVERFLOWS)
        if problems:
            found[path] = problems
            shoot(tab, f"overflow-{key}-{width}")
    context.close()
    if found:
        pytest.fail(
            "\n".join(f"{path} at {width} px: {problem}" for path, ps in found.items() for problem in ps)
        )
