/* The live event stream: one WebSocket per page to /ws/events/ on the same origin.
 *
 * Every event is dispatched on `document` as `mc:event` (detail = the event). Panels marked
 * `data-live-kinds="execution.,agent."` (prefixes) receive an htmx `mc:live` trigger, debounced, when a
 * matching event arrives, so they reload themselves.
 *
 * The protocol (mission_control/consumers.py): events come in id order, each once. The page acks what
 * it has processed (`{"type": "ack", "id"}`), which keeps the server within its window of unacked
 * events; after any close it reconnects with `after=<last id processed>` and the server replays what
 * was missed, page by page, before going live again. Close 4429 ("resync": too far behind) reconnects
 * at once the same way; 4401/4403/4404 (signed out, forbidden, gone) stop.
 */
(function () {
  "use strict";
  const MC = (window.MC = window.MC || {});
  const status = document.getElementById("live-status");
  const live = (MC.live = {
    lastId: parseInt(document.body.dataset.lastEventId || "0", 10) || 0,
    state: "connecting",
    socket: null,
    retries: 0,
    received: 0,
  });
  let pingTimer = null;
  let retryTimer = null;
  let ackTimer = null;
  let unacked = 0;
  const STOP = { 4401: "Signed out", 4403: "Not allowed", 4404: "Not available" };
  const pending = new Map();

  function setState(state, text) {
    live.state = state;
    if (status) {
      status.dataset.state = state;
      status.textContent = text;
    }
    document.dispatchEvent(new CustomEvent("mc:live-state", { detail: { state: state } }));
  }

  function url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams();
    if (live.lastId) params.set("after", String(live.lastId));
    return scheme + "//" + window.location.host + "/ws/events/?" + params.toString();
  }

  // Never swap a panel out from under someone: not while they type in it, drag in it or have one of
  // its forms open. The refresh waits and is tried again.
  function busy(el) {
    const active = document.activeElement;
    if (active && el.contains(active) && active.matches("input, textarea, select")) return true;
    if (el.querySelector('[aria-grabbed="true"], details[open] form')) return true;
    return false;
  }

  MC.idle = function (id) {
    const el = document.getElementById(id);
    return !el || !busy(el);
  };

  // Polling without htmx's eval'd trigger filters (the Content-Security-Policy allows no eval): a
  // panel with data-poll-every="<ms>" and hx-trigger="mc:poll" is sent "mc:poll" that often, unless
  // someone is busy in it.
  const polled = new WeakMap();
  setInterval(function () {
    if (!window.htmx) return;
    const now = Date.now();
    document.querySelectorAll("[data-poll-every]").forEach(function (el) {
      const every = parseInt(el.dataset.pollEvery, 10) || 30000;
      if (!polled.has(el)) { polled.set(el, now); return; }
      if (now - polled.get(el) < every || busy(el)) return;
      polled.set(el, now);
      window.htmx.trigger(el, "mc:poll");
    });
  }, 1000);

  function refresh(el, delay) {
    pending.set(el, setTimeout(function () {
      pending.delete(el);
      if (!window.htmx || !document.body.contains(el)) return;
      if (busy(el)) { refresh(el, 2000); return; }
      window.htmx.trigger(el, "mc:live");
    }, delay));
  }

  function refreshPanels(event) {
    document.querySelectorAll("[data-live-kinds]").forEach(function (el) {
      const kinds = el.dataset.liveKinds.split(",").map(function (s) { return s.trim(); });
      if (!kinds.some(function (k) { return k && event.kind.startsWith(k); })) return;
      if (pending.has(el)) return;
      // Throttled: a burst of events reloads a panel once, at most every data-live-delay ms (a busy
      // fleet publishes hundreds of events a second; a page needs a fresh panel, not each one).
      refresh(el, parseInt(el.dataset.liveDelay || "1000", 10));
    });
  }

  function connect() {
    clearTimeout(retryTimer);
    setState("connecting", live.retries ? "Reconnecting…" : "Connecting…");
    let socket;
    try {
      socket = new WebSocket(url());
    } catch (err) {
      scheduleRetry();
      return;
    }
    live.socket = socket;
    socket.onopen = function () {
      live.retries = 0;
      unacked = 0;
      // Acks opt this page into the server's flow control: it never runs more than a window ahead.
      socket.send(JSON.stringify({ type: "ack", id: live.lastId }));
      setState("open", "Live");
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    };
    socket.onmessage = function (message) {
      let event;
      try { event = JSON.parse(message.data); } catch (err) { return; }
      if (!event || typeof event.id !== "number") return;  // pongs, resync notices and the like
      if (event.id <= live.lastId) return;  // never twice, whatever a reconnect replays
      live.lastId = event.id;
      live.received += 1;
      document.dispatchEvent(new CustomEvent("mc:event", { detail: event }));
      refreshPanels(event);
      ack(socket);
    };
    socket.onclose = function (close) {
      clearInterval(pingTimer);
      if (live.socket !== socket) return;
      live.socket = null;
      clearTimeout(ackTimer);
      ackTimer = null;
      if (STOP[close.code]) {
        setState("closed", STOP[close.code]);
        return;
      }
      if (close.code === 4429) {  // too far behind: resume from the last id processed, now
        connect();
        return;
      }
      scheduleRetry();
    };
  }

  // One ack per burst (or per 200 events), not one per event.
  function ack(socket) {
    unacked += 1;
    if (unacked >= 200) {
      sendAck(socket);
    } else if (!ackTimer) {
      ackTimer = setTimeout(function () { sendAck(socket); }, 250);
    }
  }

  function sendAck(socket) {
    clearTimeout(ackTimer);
    ackTimer = null;
    unacked = 0;
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ack", id: live.lastId }));
  }

  function scheduleRetry() {
    live.retries += 1;
    const delay = Math.min(15000, 500 * Math.pow(2, Math.min(live.retries, 5)));
    setState("closed", "Offline, retrying…");
    retryTimer = setTimeout(connect, delay);
  }

  // For people and tests: drop the connection as a flaky network would; it comes back by itself.
  live.drop = function () {
    if (live.socket) live.socket.close(4000, "dropped");
  };
  live.reconnectNow = function () {
    if (!live.socket) connect();
  };
  window.addEventListener("online", live.reconnectNow);

  if (document.body.dataset.live === "on" && "WebSocket" in window) connect();
})();
