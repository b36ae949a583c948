/*
 * Edit and create providers without leaving the list page (issue: the console).
 *
 * A link marked `data-edit-dialog` (a card's Edit, New provider) opens its form in a modal
 * <dialog> instead of navigating: the form is fetched with `?dialog=1` through htmx, so the
 * chain preview, model discovery and "Test before save" work as on the form's own page. A
 * save answers 204 with the `console:provider-saved` trigger: the dialog closes, a toast says
 * what was saved, and the list re-renders the chain and the card in place
 * (`ProviderConsole.refreshList`). Errors and 412 conflicts render inside the dialog. A click
 * with a modifier key (new tab) or without htmx keeps the plain link.
 */
(function () {
  "use strict";

  var dialog = null;
  var opener = null;

  function ensureDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "edit-dialog";
    dialog.setAttribute("aria-labelledby", "edit-dialog-title");
    dialog.dataset.testid = "edit-dialog";
    dialog.innerHTML =
      '<div class="dialog-head"><h2 id="edit-dialog-title"></h2>' +
      '<button type="button" class="secondary small" data-close-dialog aria-label="Close">Close</button></div>' +
      '<div id="edit-dialog-body" class="dialog-body"><p class="help">Loading…</p></div>';
    document.body.appendChild(dialog);
    dialog.addEventListener("click", function (event) {
      if (event.target.closest("[data-close-dialog]")) dialog.close();
    });
    dialog.addEventListener("close", function () {
      document.getElementById("edit-dialog-body").innerHTML = "";
      if (opener && document.contains(opener)) opener.focus();
      opener = null;
    });
    return dialog;
  }

  function withDialogFlag(href) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("dialog", "1");
    return url.pathname + url.search;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-edit-dialog]");
    if (!link || !window.htmx || typeof HTMLDialogElement === "undefined") return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    opener = link;
    var box = ensureDialog();
    document.getElementById("edit-dialog-title").textContent = link.dataset.dialogTitle || link.textContent.trim();
    document.getElementById("edit-dialog-body").innerHTML = '<p class="help">Loading…</p>';
    box.showModal();
    window.htmx
      .ajax("GET", withDialogFlag(link.href), { target: "#edit-dialog-body", select: "#edit-host", swap: "innerHTML" })
      .then(function () {
        var first = box.querySelector("#edit-dialog-body input:not([type=hidden]), #edit-dialog-body select, #edit-dialog-body textarea");
        if (first) first.focus();
      });
  });

  document.addEventListener("console:provider-saved", function (event) {
    var detail = event.detail || {};
    if (dialog && dialog.open) dialog.close();
    var console_ = window.ProviderConsole || {};
    if (console_.toast) console_.toast(detail.message || "Saved.", "success");
    var refreshed = console_.refreshList ? console_.refreshList() : Promise.reject(new Error("no live list"));
    refreshed
      .then(function () {
        var card = document.getElementById("provider-" + detail.provider_id);
        if (card) {
          card.scrollIntoView({ block: "nearest" });
          card.classList.add("just-saved");
          window.setTimeout(function () { card.classList.remove("just-saved"); }, 2000);
        }
      })
      .catch(function () {
        // No live list on this page: show the saved state the plain way.
        window.location.assign("/#provider-" + encodeURIComponent(detail.provider_id || ""));
      });
  });
})();
