/* The Secret panel as a dialog on the provider list (spec §4.3).
 *
 * A card's "Secret" link (data-secret-open) opens a modal <dialog> holding the panel's body,
 * fetched from the panel's own URL (`HX-Request: true` asks for the body alone). Forms in the
 * dialog post with fetch: a JSON answer means done (the dialog closes, a toast says what
 * happened, the card's Security section from the answer is swapped in at once, and the list
 * refreshes its cards and chain); an HTML answer is the panel again, with its
 * inline errors or the confirmation step of a clear. Esc or Close closes it and gives focus
 * back to the link that opened it. The value typed is sent in the POST body only: never in a
 * URL, never stored, and the box is emptied as soon as it is sent. Without this script the link
 * is a plain link to the panel's page.
 */
(function () {
  "use strict";

  var dialog = null;
  var opener = null;

  function ensureDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "secret-dialog";
    dialog.setAttribute("aria-labelledby", "secret-panel-title");
    dialog.setAttribute("data-testid", "secret-dialog");
    var close = document.createElement("button");
    close.type = "button";
    close.className = "secondary small secret-dialog-close";
    close.setAttribute("data-secret-close", "");
    close.setAttribute("data-testid", "secret-dialog-close");
    close.textContent = "Close";
    var body = document.createElement("div");
    body.className = "secret-dialog-body";
    dialog.appendChild(close);
    dialog.appendChild(body);
    dialog.addEventListener("close", function () {
      body.textContent = "";  // nothing of the panel stays behind, a half-typed value least of all
      if (opener && document.contains(opener)) opener.focus();
      else if (opener) {
        var again = document.querySelector('[data-secret-open="' + opener.getAttribute("data-secret-open") + '"]');
        if (again) again.focus();
      }
      opener = null;
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  function bodyOf() { return ensureDialog().querySelector(".secret-dialog-body"); }

  function show(html) {
    var body = bodyOf();
    body.innerHTML = html;
    var target = body.querySelector(".secret-errors, [data-testid=confirm-clear]") ||
      body.querySelector("input[type=password], input:not([type=hidden]), button:not([disabled])");
    if (target) {
      if (!target.matches("input, button, a")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  function failure(text) {
    var body = bodyOf();
    var old = body.querySelector(".secret-fetch-error");
    if (old) old.remove();
    var p = document.createElement("p");
    p.className = "error secret-fetch-error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    body.insertBefore(p, body.firstChild);
  }

  function load(url) {
    return fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.text().then(function (text) {
          if (!response.ok) throw new Error("The panel could not be loaded (HTTP " + response.status + ").");
          show(text);
        });
      });
  }

  function open(link) {
    var d = ensureDialog();
    opener = link;
    bodyOf().textContent = "Loading…";
    if (!d.open) d.showModal();
    load(link.getAttribute("data-secret-open")).catch(function (error) { failure(error.message); });
  }

  function toast(text, level) {
    var pc = window.ProviderConsole;
    if (pc && typeof pc.toast === "function") { pc.toast(text, level); return; }
    var main = document.querySelector("main") || document.body;
    var box = main.querySelector(".toasts");
    if (!box) {
      box = document.createElement("div");
      box.className = "toasts";
      box.setAttribute("aria-live", "polite");
      main.insertBefore(box, main.firstChild);
    }
    var item = document.createElement("div");
    item.className = "toast toast-" + (level || "success");
    item.setAttribute("role", "status");
    item.textContent = text;
    box.appendChild(item);
  }

  /* The cards and the chain from the server: the live list's refresh when it is there, or the
     list page fetched again and the card of `providerId` and the chain swapped in. */
  function refresh(providerId) {
    var pc = window.ProviderConsole;
    if (pc && typeof pc.refreshList === "function") {
      return Promise.resolve(pc.refreshList()).catch(function () { return fallbackRefresh(providerId); });
    }
    return fallbackRefresh(providerId);
  }

  /* The card's new Security section, rendered by the server with the answer: in place at once;
     the list's refresh brings the chain and the rest of the card right after. */
  function swapSecurity(providerId, html) {
    if (!html) return;
    var now = document.querySelector('[data-testid="security-' + CSS.escape(providerId) + '"]');
    if (!now) return;
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    var next = holder.content.firstElementChild;
    if (!next) return;
    var hadFocus = now.contains(document.activeElement);
    now.replaceWith(next);
    var button = hadFocus && next.querySelector("[data-secret-open]");
    if (button) button.focus();
  }

  /* The card's last check error as it reads now: a "none is stored" older than the secret just
     stored says so at once. */
  function swapLastError(providerId, html) {
    if (!html) return;
    var now = document.querySelector("#provider-" + CSS.escape(providerId) + " .last-error");
    if (now) now.innerHTML = html.trim();
  }

  function fallbackRefresh(providerId) {
    return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var selectors = ["#provider-" + CSS.escape(providerId), "[data-testid=routing-chain]"];
        selectors.forEach(function (selector) {
          var now = document.querySelector(selector);
          var next = fresh.querySelector(selector);
          if (now && next) now.replaceWith(document.importNode(next, true));
        });
      });
  }

  function submit(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var panel = form.closest("[data-secret-panel]");
    var providerId = panel ? panel.getAttribute("data-provider") : "";
    // The value now lives only in `data`, on its way in the POST body.
    form.querySelectorAll("input[type=password]").forEach(function (input) { input.value = ""; });
    form.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: data,
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.ok && type.indexOf("application/json") === 0) {
        return response.json().then(function (done) {
          var id = done.provider_id || providerId;
          dialog.close();
          toast(done.message, "success");
          swapSecurity(id, done.security_html);
          swapLastError(id, done.last_error_html);
          return refresh(id).then(function () {
            // The card was re-rendered: give focus back to its Secret button, not to the page.
            var active = document.activeElement;
            if (!active || active === document.body || !document.contains(active)) {
              var again = document.querySelector('[data-secret-open][data-testid="secret-' + CSS.escape(id) + '"]');
              if (again) again.focus();
            }
          });
        });
      }
      return response.text().then(function (text) {
        if (type.indexOf("text/html") === 0 && text.indexOf("data-secret-panel") !== -1) show(text);
        else failure("The action was refused (HTTP " + response.status + "). Reload the page and try again.");
      });
    }).catch(function () {
      failure("The site could not be reached; nothing was changed. Try again.");
      form.querySelectorAll("button").forEach(function (button) { button.disabled = false; });
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-secret-open]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      open(link);
      return;
    }
    if (!dialog || !dialog.contains(event.target)) return;
    if (event.target.closest("[data-secret-close]")) {
      dialog.close();
      return;
    }
    var reload = event.target.closest("[data-secret-reload]");
    if (reload) {
      event.preventDefault();
      load(reload.getAttribute("href")).catch(function (error) { failure(error.message); });
    }
  });

  document.addEventListener("submit", function (event) {
    if (!dialog || !dialog.contains(event.target)) return;
    event.preventDefault();
    submit(event.target, event.submitter);
  });
})();
