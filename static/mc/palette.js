/* The command palette: Ctrl+K / Cmd+K anywhere, a modal dialog with a combobox and a listbox.
 *
 * Results come from the palette endpoint (scoped to the user on the server). An item either opens a
 * URL or runs an action: a POST to the API endpoint it names, so the API's permission checks apply.
 * Actions that need a word from the user (the emergency stop's reason) ask for it in a second step.
 * Keyboard: arrows move, Enter opens or runs, Escape goes back or closes; Tab stays in the dialog.
 */
(function () {
  "use strict";
  const MC = (window.MC = window.MC || {});
  const dialog = document.getElementById("palette");
  const script = document.getElementById("palette-script");
  if (!dialog || !script) return;
  const input = document.getElementById("palette-input");
  const list = document.getElementById("palette-results");
  const step = document.getElementById("palette-step");
  const stepTitle = document.getElementById("palette-step-title");
  const stepLabel = document.getElementById("palette-step-label");
  const stepInput = document.getElementById("palette-step-input");
  const help = document.getElementById("palette-help");
  const endpoint = script.dataset.endpoint;
  // Enter runs the active item (keydown below); the form itself never submits.
  dialog.querySelector("form.palette-form").addEventListener("submit", function (event) {
    event.preventDefault();
  });
  let items = [];
  let active = 0;
  let pendingAction = null;
  let requestSeq = 0;
  let debounce = null;
  let inFlight = Promise.resolve();
  let opener = null;

  function open() {
    if (dialog.open) return;
    opener = document.activeElement;
    input.value = "";
    leaveStep();
    dialog.showModal();
    input.focus();
    search("");
  }

  function close() {
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener("close", function () {
    leaveStep();
    if (opener && opener.focus) opener.focus();
  });

  function search(query) {
    inFlight = fetchResults(query);
    return inFlight;
  }

  async function fetchResults(query) {
    const seq = ++requestSeq;
    const result = await MC.api("GET", endpoint + "?q=" + encodeURIComponent(query));
    if (seq !== requestSeq) return;  // a later keystroke already asked again
    items = result.ok ? result.body.results : [];
    active = 0;
    render(result.ok ? "" : MC.errorText(result));
  }

  function render(error) {
    list.textContent = "";
    if (error || !items.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.setAttribute("role", "option");
      li.setAttribute("aria-disabled", "true");
      li.id = "palette-none";
      li.textContent = error || "Nothing matches. Try fewer letters.";
      list.appendChild(li);
      input.removeAttribute("aria-activedescendant");
      return;
    }
    items.forEach(function (item, index) {
      const li = document.createElement("li");
      li.id = "palette-item-" + index;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", index === active ? "true" : "false");
      li.dataset.index = String(index);
      const label = document.createElement("span");
      label.textContent = item.label;
      const meta = document.createElement("span");
      meta.className = "muted small";
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = item.kind;
      meta.append(item.detail ? item.detail + " · " : "", kind);
      li.append(label, meta);
      li.addEventListener("mousemove", function () { select(index); });
      li.addEventListener("click", function () { choose(index); });
      list.appendChild(li);
    });
    input.setAttribute("aria-activedescendant", "palette-item-" + active);
  }

  function select(index) {
    if (!items.length) return;
    active = (index + items.length) % items.length;
    list.querySelectorAll('[role="option"]').forEach(function (li, i) {
      li.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    input.setAttribute("aria-activedescendant", "palette-item-" + active);
    const el = document.getElementById("palette-item-" + active);
    if (el) el.scrollIntoView({ block: "nearest" });
  }

  function choose(index) {
    const item = items[index];
    if (!item) return;
    if (item.url && !item.action) {
      close();
      window.location.assign(item.url);
      return;
    }
    if (item.action && item.action.prompt) {
      enterStep(item);
      return;
    }
    if (item.action) run(item, {});
  }

  function enterStep(item) {
    pendingAction = item;
    stepTitle.textContent = item.label;
    stepLabel.textContent = item.action.prompt.label;
    stepInput.value = "";
    step.hidden = false;
    list.hidden = true;
    input.hidden = true;
    help.hidden = true;
    stepInput.focus();
  }

  function leaveStep() {
    pendingAction = null;
    step.hidden = true;
    list.hidden = false;
    input.hidden = false;
    help.hidden = false;
  }

  async function run(item, extra) {
    const action = item.action;
    const body = Object.assign({}, action.body || {}, extra);
    close();
    const result = await MC.api(action.method || "POST", action.endpoint, body);
    if (result.ok) {
      MC.toast(action.done || "Done.", "ok");
      document.dispatchEvent(new CustomEvent("mc:action-done", { detail: { item: item, body: result.body } }));
    } else {
      MC.toast(item.label + ": " + MC.errorText(result), "bad");
    }
  }

  input.addEventListener("input", function () {
    clearTimeout(debounce);
    debounce = setTimeout(function () { debounce = null; search(input.value); }, 120);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { event.preventDefault(); select(active + 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); select(active - 1); }
    else if (event.key === "Home") { event.preventDefault(); select(0); }
    else if (event.key === "End") { event.preventDefault(); select(items.length - 1); }
    else if (event.key === "Enter") {
      event.preventDefault();
      // A fast typist presses Enter before the results for the last letters are in: wait for them.
      if (debounce) { clearTimeout(debounce); debounce = null; search(input.value); }
      inFlight.then(function () { choose(active); });
    }
  });

  stepInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      const prompt = pendingAction.action.prompt;
      const value = stepInput.value.trim();
      if (prompt.required && !value) {
        stepInput.setAttribute("aria-invalid", "true");
        return;
      }
      run(pendingAction, { [prompt.field]: value });
    } else if (event.key === "Escape") {
      event.preventDefault();
      leaveStep();
      input.focus();
    }
  });

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      if (dialog.open) close(); else open();
    }
  });
  document.querySelectorAll("[data-palette-open]").forEach(function (button) {
    button.addEventListener("click", open);
  });
  MC.palette = { open: open, close: close };
})();
