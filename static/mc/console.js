/* Mission Control console: the few behaviours every page shares.
 *
 * - MC.api(method, url, body): calls the JSON API with the session and CSRF token, so an action taken
 *   on a page goes through exactly the API's own permission checks and services.
 * - <form data-api="/api/v1/..."> submits its fields as JSON to the API, showing field errors inline.
 * - <button data-api-post="/api/v1/..." data-body='{...}' data-confirm="..."> posts one action.
 * - data-refresh="#panel" on either reloads that htmx panel after success.
 * - MC.toast(text, kind) announces results (role=status, polite).
 */
(function () {
  "use strict";
  const MC = (window.MC = window.MC || {});

  MC.csrf = function () {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  MC.api = async function (method, url, body) {
    const options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": MC.csrf() },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (err) {
      return { ok: false, status: 0, body: { detail: "The server could not be reached." } };
    }
    let data = {};
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch (err) { data = { detail: text.slice(0, 200) }; }
    }
    return { ok: response.ok, status: response.status, body: data };
  };

  MC.errorText = function (result) {
    const body = result.body || {};
    if (result.status === 404) return body.detail || "Not found (or not yours).";
    return body.detail || body.error || "Request failed (" + result.status + ").";
  };

  MC.toast = function (text, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast " + (kind || "");
    el.textContent = text;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, kind === "bad" ? 9000 : 5000);
  };

  MC.refresh = function (selector) {
    if (!selector || !window.htmx) return;
    document.querySelectorAll(selector).forEach(function (el) { window.htmx.trigger(el, "mc:live"); });
  };

  function fill(template, body) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return encodeURIComponent(body[key]); });
  }

  function formBody(form) {
    const body = {};
    form.querySelectorAll("[name]").forEach(function (field) {
      if (field.disabled || !field.name || field.name === "csrfmiddlewaretoken") return;
      if (field.type === "checkbox") { body[field.name] = field.checked; return; }
      if (field.type === "radio" && !field.checked) return;
      let value = field.value;
      const as = field.dataset.as;
      if (value === "" && field.dataset.omitEmpty !== undefined) return;
      if (as === "json") {
        try { value = value.trim() ? JSON.parse(value) : {}; }
        catch (err) { throw { field: field.name, message: "Not valid JSON." }; }
      } else if (as === "int") {
        value = value === "" ? null : parseInt(value, 10);
      } else if (as === "ints") {
        value = value.split(",").map(function (s) { return parseInt(s.trim().replace("#", ""), 10); }).filter(function (n) { return !isNaN(n); });
      } else if (as === "list") {
        value = value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      } else if (as === "null-if-empty" && value === "") {
        value = null;
      }
      body[field.name] = value;
    });
    return body;
  }

  function showFieldErrors(form, fields) {
    form.querySelectorAll(".field-error[data-for]").forEach(function (el) { el.remove(); });
    Object.keys(fields || {}).forEach(function (name) {
      const input = form.querySelector('[name="' + name + '"]');
      const messages = fields[name];
      const text = Array.isArray(messages) ? messages.join(" ") : JSON.stringify(messages);
      const p = document.createElement("p");
      p.className = "field-error";
      p.dataset.for = name;
      p.textContent = text;
      if (input) {
        p.id = "err-" + name;
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", p.id);
        input.insertAdjacentElement("afterend", p);
      } else {
        form.prepend(p);
      }
    });
  }

  async function done(el, result) {
    if (!result.ok) {
      MC.toast(MC.errorText(result), "bad");
      return;
    }
    MC.toast(el.dataset.done || "Done.", "ok");
    if (el.dataset.reveal) {
      // A secret shown once (a new key): into the page, never into a toast that fades.
      const target = document.querySelector(el.dataset.revealInto);
      if (target) {
        target.hidden = false;
        target.textContent = "";
        const code = document.createElement("code");
        code.textContent = result.body[el.dataset.reveal];
        target.append("Copy this now, it is not shown again: ", code);
        target.setAttribute("tabindex", "-1");
        target.focus();
      }
      return;
    }
    if (el.dataset.successUrl) {
      window.location.assign(fill(el.dataset.successUrl, result.body));
      return;
    }
    if (el.dataset.refresh) MC.refresh(el.dataset.refresh);
    if (el.dataset.reload !== undefined) window.location.reload();
  }

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!form.matches("form[data-api]")) return;
    event.preventDefault();
    let body;
    try { body = formBody(form); }
    catch (err) { showFieldErrors(form, { [err.field]: [err.message] }); return; }
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const submit = form.querySelector('[type="submit"]');
    if (submit) submit.disabled = true;
    const result = await MC.api(form.dataset.method || "POST", form.dataset.api, body);
    if (submit) submit.disabled = false;
    showFieldErrors(form, result.ok ? {} : (result.body.fields || {}));
    if (result.ok && form.dataset.reset !== undefined) form.reset();
    await done(form, result);
  });

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-api-post], button[data-api-delete]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    let body = {};
    if (button.dataset.body) body = JSON.parse(button.dataset.body);
    const method = button.dataset.apiPost ? "POST" : "DELETE";
    button.disabled = true;
    const result = await MC.api(method, button.dataset.apiPost || button.dataset.apiDelete, method === "POST" ? body : undefined);
    button.disabled = false;
    await done(button, result);
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });
})();
