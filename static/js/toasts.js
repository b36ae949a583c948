/*
 * Toasts on every console page (loaded from templates/base.html):
 *
 *   ProviderConsole.toast("Saved openai-prod.", "success");
 *   ProviderConsole.toast("Archived openai-prod.", "success", {
 *     action: { label: "Undo", form: { action: "/providers/openai-prod/restore/" } },
 *   });
 *
 * level: success | error | info (warning is shown like info). A toast goes into the page's
 * `.toasts` region (aria-live; made at the top of <main> when the page has none) with a close
 * button. Success and info toasts leave after 6 s (12 s when they offer an action), never while
 * the pointer is on them or keyboard focus is inside; errors stay until dismissed.
 * options: { action: { label, href | form: { action, fields } | onClick }, timeout (ms, 0 =
 * stays), testid }. A form action is a POST with the page's CSRF token. The server's own
 * messages (Django messages, templates/includes/toast.html) get the same close button and
 * timing. Text only: a toast never parses HTML.
 */
(function (root) {
  "use strict";

  var doc = root.document;
  var TIMEOUT_MS = 6000;
  var TIMEOUT_WITH_ACTION_MS = 12000;
  var LEVELS = { success: "success", error: "error", info: "info", warning: "warning" };

  function region() {
    var found = doc.querySelector(".toasts");
    if (found) return found;
    found = doc.createElement("div");
    found.className = "toasts";
    found.setAttribute("aria-live", "polite");
    found.setAttribute("data-testid", "toasts");
    var main = doc.querySelector("main") || doc.body;
    main.insertBefore(found, main.firstChild);
    return found;
  }

  function csrfToken() {
    var input = doc.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) return input.value;
    var match = doc.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function closeButton() {
    var button = doc.createElement("button");
    button.type = "button";
    button.className = "toast-close";
    button.setAttribute("aria-label", "Dismiss");
    button.title = "Dismiss";
    return button;
  }

  function actionControl(action) {
    if (action.href) {
      var link = doc.createElement("a");
      link.className = "button small";
      link.href = action.href;
      link.textContent = action.label;
      return link;
    }
    var button = doc.createElement("button");
    button.className = "small";
    button.textContent = action.label;
    if (action.testid) button.setAttribute("data-testid", action.testid);
    if (!action.form) {
      button.type = "button";
      if (action.onClick) button.addEventListener("click", action.onClick);
      return button;
    }
    var form = doc.createElement("form");
    form.method = "post";
    form.action = action.form.action;
    form.className = "inline";
    var fields = Object.assign({ csrfmiddlewaretoken: csrfToken() }, action.form.fields || {});
    Object.keys(fields).forEach(function (name) {
      var input = doc.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    button.type = "submit";
    form.appendChild(button);
    return form;
  }

  function dismiss(item) {
    if (!item || !item.parentNode) return;
    if (item.__toastTimer) root.clearTimeout(item.__toastTimer);
    var hadFocus = item.contains(doc.activeElement);
    item.parentNode.removeChild(item);
    if (hadFocus) {
      var main = doc.getElementById("main");
      if (main) main.focus({ preventScroll: true });
    }
  }

  // Auto-dismiss: paused while hovered or focused, restarted when left.
  function arm(item, timeout) {
    if (!timeout) return;
    item.__toastTimeout = timeout;
    function start() {
      if (item.__toastTimer) root.clearTimeout(item.__toastTimer);
      item.__toastTimer = root.setTimeout(function () {
        if (item.matches(":hover") || item.contains(doc.activeElement)) return start();
        dismiss(item);
      }, timeout);
    }
    item.addEventListener("mouseenter", function () { root.clearTimeout(item.__toastTimer); });
    item.addEventListener("mouseleave", start);
    item.addEventListener("focusout", function () { if (!item.contains(doc.activeElement)) start(); });
    item.addEventListener("focusin", function () { root.clearTimeout(item.__toastTimer); });
    start();
  }

  function defaultTimeout(level, hasAction) {
    if (level === "error") return 0;
    return hasAction ? TIMEOUT_WITH_ACTION_MS : TIMEOUT_MS;
  }

  function toast(text, level, options) {
    options = options || {};
    level = LEVELS[level] || "info";
    var item = doc.createElement("div");
    item.className = "toast toast-" + level;
    item.setAttribute("role", level === "error" ? "alert" : "status");
    if (options.testid) item.setAttribute("data-testid", options.testid);
    var body = doc.createElement("span");
    body.className = "toast-text";
    body.textContent = String(text);
    item.appendChild(body);
    if (options.action) item.appendChild(actionControl(options.action));
    item.appendChild(closeButton());
    region().appendChild(item);
    arm(item, options.timeout === undefined ? defaultTimeout(level, !!options.action) : options.timeout);
    return item;
  }

  // The server's toasts: close buttons on each, and the same timing.
  function adoptServerToasts() {
    Array.prototype.forEach.call(doc.querySelectorAll(".toasts .toast"), function (item) {
      if (item.__toastAdopted) return;
      item.__toastAdopted = true;
      if (!item.querySelector(".toast-close")) item.appendChild(closeButton());
      var level = (item.className.match(/toast-(success|error|info|warning)/) || [])[1] || "info";
      arm(item, defaultTimeout(level, !!item.querySelector("form, a.button")));
    });
  }

  doc.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest(".toast-close");
    if (close) dismiss(close.closest(".toast"));
  });
  doc.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var item = doc.activeElement && doc.activeElement.closest && doc.activeElement.closest(".toast");
    if (item) dismiss(item);
  });

  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", adoptServerToasts);
  else adoptServerToasts();

  root.ProviderConsole = root.ProviderConsole || {};
  root.ProviderConsole.toast = toast;
  root.ProviderConsole.dismissToast = dismiss;
})(window);
