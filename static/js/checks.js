/*
 * Test and Run all checks on the provider list, without leaving the page (spec §4.4).
 *
 * - A card's Test form (`form[data-check-test]`) is posted with fetch (Accept: application/json):
 *   the button shows a busy state, a toast says pass/fail, latency and the reason, and the card
 *   is re-rendered from the server (ProviderConsole.refreshList when the live list offers it,
 *   otherwise the card is replaced from a fresh copy of the page).
 * - Run all (`form[data-run-all]`) answers at once with the run's id and its N providers; the
 *   panel `#check-run` (outside the live list, so a refresh keeps it) shows "Checked n of N" as
 *   the run's `provider.tested` events arrive (the `audit:event` DOM events of events.js), then
 *   the summary table from GET /checks/runs/<id>/. A page loaded while a run is going picks it
 *   up from the panel's data-run-id. If no audit stream runs on the page, the panel asks the
 *   status URL every second instead.
 * Listeners are delegated on `document`: the live list re-renders the cards.
 */
(function (root) {
  "use strict";

  var doc = root.document;
  var POLL_MS = 1000;
  var SAFETY_POLL_MS = 3000;
  var run = null; // {id, total, seen: Set, done, timer}
  var early = {}; // run id -> provider ids whose events came before the POST's answer

  function consoleApi() {
    return root.ProviderConsole || {};
  }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(form) {
    return root.fetch(form.action, {
      method: "POST",
      body: new root.FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return { error: "The server answered " + response.status + "." };
        })
        .then(function (body) {
          return { status: response.status, ok: response.ok, body: body };
        });
    });
  }

  function toast(text, level, options) {
    var api = consoleApi();
    if (api.toast) return api.toast(text, level, options);
    var region = doc.querySelector(".toasts");
    if (!region) {
      region = doc.createElement("div");
      region.className = "toasts";
      region.setAttribute("aria-live", "polite");
      var main = doc.querySelector("main") || doc.body;
      main.insertBefore(region, main.firstChild);
    }
    var item = doc.createElement("div");
    item.className = "toast toast-" + (level || "info");
    item.setAttribute("role", "status");
    item.textContent = text;
    region.appendChild(item);
    if (level === "success") root.setTimeout(function () { item.remove(); }, 6000);
    return item;
  }

  // The card from the server: the live list's refresh, or this page fetched again.
  function refreshCards(providerIds) {
    var api = consoleApi();
    if (api.refreshList) return Promise.resolve(api.refreshList());
    return root
      .fetch(root.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new root.DOMParser().parseFromString(html, "text/html");
        providerIds.forEach(function (id) {
          var selector = "#provider-" + root.CSS.escape(id);
          var now = doc.querySelector(selector);
          var next = fresh.querySelector(selector);
          if (now && next) now.replaceWith(doc.importNode(next, true));
        });
      });
  }

  function describe(result) {
    if (result.ok) return result.name + ": pass in " + result.latency_ms + " ms";
    return result.name + ": fail (" + result.error_code + ") — " + (result.error_message || "");
  }

  // -- Test one provider ------------------------------------------------------------------------
  function testProvider(form) {
    var button = form.querySelector("button[type=submit]");
    if (!button || button.disabled) return;
    var label = button.textContent;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.classList.add("busy");
    button.textContent = "Testing…";
    var providerId = form.getAttribute("data-check-test");
    post(form)
      .then(function (answer) {
        if (!answer.ok) {
          toast(answer.body.error || "The test could not run (" + answer.status + ").", "error");
          return;
        }
        toast(describe(answer.body), answer.body.ok ? "success" : "error");
        return refreshCards([providerId]);
      })
      .catch(function (error) {
        toast("The test could not be sent: " + error.message, "error");
      })
      .then(function () {
        // The card may have been re-rendered: restore this button only if it is still there.
        if (doc.contains(button)) {
          button.disabled = false;
          button.removeAttribute("aria-busy");
          button.classList.remove("busy");
          button.textContent = label;
        }
      });
  }

  // -- Run all checks -----------------------------------------------------------------------------
  function panel() {
    return doc.getElementById("check-run");
  }

  function part(selector) {
    var p = panel();
    return p ? p.querySelector(selector) : null;
  }

  function statusUrl(runId) {
    return panel().getAttribute("data-status-url").replace("RUN_ID", encodeURIComponent(runId));
  }

  function showProgress() {
    if (!run || run.total === null) return;
    var n = Math.min(run.seen.size, run.total);
    var bar = part("progress");
    bar.max = run.total;
    bar.value = n;
    part(".check-run-progress").hidden = false;
    part("[data-testid=check-run-count]").textContent = "Checked " + n + " of " + run.total;
  }

  function beginRun(info) {
    var p = panel();
    if (!p) return;
    if (run && run.timer) root.clearInterval(run.timer);
    run = { id: info.run_id, total: info.total === null || info.total === undefined ? null : Number(info.total),
            seen: new Set(early[info.run_id] || []), done: false, timer: null };
    early = {};
    p.hidden = false;
    p.setAttribute("data-run-id", info.run_id);
    p.classList.remove("finished");
    part(".check-run-summary").innerHTML = "";
    part("[data-check-run-close]").hidden = true;
    if (info.description) part(".check-run-state").textContent = "Checks are running, " + info.description + ".";
    showProgress();
    if (run.total !== null && run.seen.size >= run.total) {
      finish(null);
      return;
    }
    var streaming = !!(root.ProviderConsole && root.ProviderConsole.startEventStream);
    run.timer = root.setInterval(poll, streaming ? SAFETY_POLL_MS : POLL_MS);
  }

  function poll() {
    if (!run || run.done) return;
    var current = run;
    root
      .fetch(statusUrl(current.id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body || run !== current || current.done) return;
        body.results.forEach(function (r) { current.seen.add(r.provider_id); });
        if (body.total !== null && current.total === null) current.total = body.total;
        showProgress();
        if (!body.running) finish(body);
      })
      .catch(function () {});
  }

  function finish(body) {
    if (!run || run.done) return;
    run.done = true;
    if (run.timer) root.clearInterval(run.timer);
    var current = run;
    var answer = body
      ? Promise.resolve(body)
      : root.fetch(statusUrl(current.id), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) { return response.json(); });
    answer.then(function (status) {
      if (run !== current) return;
      if (current.total === null) current.total = status.checked;
      current.seen = new Set(status.results.map(function (r) { return r.provider_id; }));
      showProgress();
      var p = panel();
      p.classList.add("finished");
      part(".check-run-state").textContent =
        "Checks finished: " + status.checked + " checked, " + status.passed + " passed, " + status.failed + " failed.";
      part(".check-run-summary").innerHTML = status.summary_html; // rendered and escaped by the server
      part("[data-check-run-close]").hidden = false;
      // The cards follow the events as they come; once more at the end in case one was missed.
      refreshCards(status.results.map(function (r) { return r.provider_id; })).catch(function () {});
    }).catch(function (error) {
      part(".check-run-state").textContent = "Checks finished; the summary could not be loaded (" + error.message + ").";
    });
  }

  function onAuditEvent(domEvent) {
    var event = domEvent.detail;
    if (!event || event.event !== "provider.tested") return;
    var payload = event.payload || {};
    if (!run && payload.run_id && payload.run_id !== "***") {
      (early[payload.run_id] = early[payload.run_id] || []).push(event.provider_id);
      return;
    }
    if (!run || run.done) return;
    if (payload.run_id === run.id) {
      run.seen.add(event.provider_id);
      showProgress();
      if (run.total !== null && run.seen.size >= run.total) finish(null);
    } else if (payload.run_id === "***") {
      poll(); // a viewer's masked event: the server says whose run it was
    }
  }

  function runAll(form) {
    var button = form.querySelector("button[type=submit]");
    if (!button || button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    post(form)
      .then(function (answer) {
        if (answer.status === 202) {
          beginRun(answer.body);
          toast(answer.body.message, "info");
        } else {
          toast(answer.body.error || "Run all checks could not start (" + answer.status + ").", "error");
        }
      })
      .catch(function (error) {
        toast("Run all checks could not be sent: " + error.message, "error");
      })
      .then(function () {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
  }

  doc.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof root.HTMLFormElement)) return;
    if (form.hasAttribute("data-check-test")) {
      e.preventDefault();
      testProvider(form);
    } else if (form.hasAttribute("data-run-all")) {
      e.preventDefault();
      runAll(form);
    }
  });

  doc.addEventListener("click", function (e) {
    var close = e.target.closest && e.target.closest("[data-check-run-close]");
    if (!close) return;
    var p = panel();
    if (p && run && run.done) {
      p.hidden = true;
      run = null;
    }
  });

  doc.addEventListener("audit:event", onAuditEvent);

  doc.addEventListener("DOMContentLoaded", function () {
    var api = consoleApi();
    // The live list starts the audit stream; without it, start one here (events.js loaded).
    if (!api.refreshList && api.startEventStream && !api.checksStream && panel()) {
      api.checksStream = api.startEventStream({});
    }
    var p = panel();
    var runId = p && p.getAttribute("data-run-id");
    if (runId) {
      var total = p.getAttribute("data-total");
      beginRun({ run_id: runId, total: total === "" ? null : Number(total) });
      poll();
    }
  });

  root.ProviderConsole = root.ProviderConsole || {};
  root.ProviderConsole.checks = { current: function () { return run; } };
})(window);
