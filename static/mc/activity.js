/* /global/activity: prepends live events (from live.js's `mc:event`) that match the page's filters.
 * Pause buffers them (the counter says how many wait); Resume shows them in order. */
(function () {
  "use strict";
  const list = document.getElementById("event-list");
  if (!list) return;
  const empty = document.getElementById("events-empty");
  const button = document.getElementById("activity-pause");
  const counter = document.getElementById("activity-counter");
  const names = JSON.parse(document.getElementById("agent-names").textContent || "{}");
  const filter = {
    kind: list.dataset.kind,
    agent: list.dataset.agent,
    business: list.dataset.business,
    global: list.dataset.global === "1",  // events of no business (a global stop) unless one was picked
  };
  const KEEP = 500;
  let paused = false;
  let buffer = [];

  function matches(event) {
    if (filter.kind) {
      if (filter.kind.endsWith(".") ? !event.kind.startsWith(filter.kind) : event.kind !== filter.kind) return false;
    }
    if (filter.agent && String(event.agent) !== filter.agent) return false;
    if (filter.business && event.business !== filter.business && !(filter.global && !event.business)) return false;
    return true;
  }

  function text(tag, className, value) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    el.textContent = value;
    return el;
  }

  function row(event) {
    const li = document.createElement("li");
    li.dataset.id = String(event.id);
    li.className = "fresh";
    const ts = new Date(event.ts);
    // As the server renders it: "Nov 29, 14:02:11", in UTC (the exact instant in the tooltip).
    const month = ts.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
    const time = text("time", "muted small", month + " " + ts.getUTCDate() + ", " + ts.toISOString().slice(11, 19));
    time.dateTime = event.ts;
    time.title = ts.toISOString().slice(0, 19).replace("T", " ") + " UTC";
    const message = text("span", "", event.message || "—");
    if (event.execution) message.append(" ", text("span", "muted small", "· execution #" + event.execution));
    const who = (event.agent ? (names[String(event.agent)] || event.agent) + " · " : "") + (event.business || "global");
    li.append(time, text("span", "kind", event.kind), message, text("span", "muted small nowrap", who));
    return li;
  }

  function show(event) {
    if (list.querySelector('[data-id="' + event.id + '"]')) return;
    list.prepend(row(event));
    if (empty) empty.hidden = true;
    while (list.children.length > KEEP) list.lastElementChild.remove();
  }

  function updateCounter() {
    counter.textContent = paused ? (buffer.length + " new event" + (buffer.length === 1 ? "" : "s") + " waiting") : "";
  }

  document.addEventListener("mc:event", function (e) {
    const event = e.detail;
    if (!matches(event)) return;
    if (paused) { buffer.push(event); updateCounter(); return; }
    show(event);
  });

  button.addEventListener("click", function () {
    paused = !paused;
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    button.textContent = paused ? "Resume" : "Pause";
    if (!paused) { buffer.forEach(show); buffer = []; }
    updateCounter();
  });
})();
