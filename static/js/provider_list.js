/*
 * The provider list (/) stays live without a reload (docs/console.md).
 *
 * The page's live parts (`[data-live-part]` inside `[data-live-list]`: the routing chain, then
 * the count of matches with the cards) are re-rendered by the server: the same URL with its
 * filters, asked with the header `X-Console-Fragment: list`, answers them alone
 * (console/_list_region.html). This script
 *   - starts the audit stream (ProviderConsole.startEventStream, static/js/events.js) and, on
 *     any event that can change the chain or a card (provider.*, secret.*), fetches the parts
 *     again: debounced (20 ms after the first event, so the events of one change make one
 *     fetch; fetches at least 100 ms apart), at most one request in flight and one more if
 *     events arrived meanwhile. Payloads are never read (a viewer's are masked): the server re-renders;
 *   - swaps them in: the chain and the count when they changed, and only the cards whose HTML
 *     changed, in the new order; keyboard focus and the scroll position are kept; a changed
 *     card or chain is marked for a moment (`card-updated`, `chain-updated`);
 *   - adds each event as a row of "Recent events" (the events page's row builder,
 *     ProviderConsole.eventRows from static/js/events_page.js), keeping the newest ten.
 *
 *   ProviderConsole.refreshList()  -> Promise, resolved after a swap of parts fetched after the
 *                                     call (for the page's own actions: Test, Secret, Save).
 *   document event "console:list-updated" after each swap; detail: { changed: [provider ids],
 *                                     chainChanged: bool }.
 * A user without the audit log (a delegated provider only) gets no stream; refreshList works.
 */
(function (root) {
  "use strict";

  var doc = root.document;
  // Events of one change (an update and its status move) arrive a few ms apart: the first event
  // of a quiet spell waits COALESCE_MS for its siblings; fetches start at most every SPACING_MS.
  var COALESCE_MS = 20;
  var SPACING_MS = 100;
  var MARK_MS = 1600;
  var LIVE_EVENTS = /^(provider|secret)\./;

  var scope = null; // [data-live-list]
  var serverHtml = new WeakMap(); // part or card -> its normalized server HTML
  var timer = null;
  var inFlight = null;
  var again = false; // events (or calls) arrived while a request was in flight
  var waiting = []; // refreshList() resolvers for the next request to start
  var stream = null;
  var failures = 0; // refreshes failed in a row
  var lastStart = 0; // when the last fetch started (Date.now())

  // The HTML as the server meant it: CSRF tokens are new on every render and relative times
  // tick, so neither counts as a change.
  function normalized(element) {
    var copy = element.cloneNode(true);
    copy.classList.remove("card-updated", "chain-updated");
    copy.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (input) {
      input.removeAttribute("value");
    });
    copy.querySelectorAll("time[data-relative]").forEach(function (time) {
      time.textContent = "";
    });
    return copy.outerHTML;
  }

  function remember(element) {
    serverHtml.set(element, normalized(element));
  }

  function part(container, name) {
    return container.querySelector('[data-live-part="' + name + '"]');
  }

  function cardsOf(container) {
    return Array.prototype.filter.call(container.children, function (child) {
      return child.matches("article.card[data-provider]");
    });
  }

  function mark(element, className) {
    element.classList.add(className);
    root.setTimeout(function () {
      element.classList.remove(className);
    }, MARK_MS);
  }

  // Where keyboard focus is, in words that survive a re-render.
  function focusKey() {
    var active = doc.activeElement;
    if (!active || active === doc.body || !scope.contains(active)) return null;
    var holder = active.closest("[data-provider]");
    var partElement = active.closest("[data-live-part]");
    if (!partElement) return { element: active };
    var within = holder || partElement;
    var focusables = Array.prototype.slice.call(within.querySelectorAll("a[href], button, input, select, textarea, [tabindex]"));
    return {
      element: active,
      part: partElement.getAttribute("data-live-part"),
      provider: holder ? holder.getAttribute("data-provider") : null,
      holderTag: holder ? holder.tagName : null,
      testid: active.getAttribute("data-testid"),
      id: active.id,
      index: focusables.indexOf(active),
    };
  }

  function restoreFocus(key) {
    if (!key) return;
    if (key.element.isConnected) {
      if (doc.activeElement !== key.element) key.element.focus({ preventScroll: true });
      return;
    }
    var found = null;
    if (key.id) found = doc.getElementById(key.id);
    var partElement = key.part ? part(scope, key.part) : null;
    if (!found && partElement) {
      var within = partElement;
      if (key.provider) {
        within = partElement.querySelector(key.holderTag.toLowerCase() + '[data-provider="' + CSS.escape(key.provider) + '"]');
      }
      if (within && key.testid) found = within.querySelector('[data-testid="' + CSS.escape(key.testid) + '"]');
      if (within && !found && key.index >= 0) {
        found = within.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")[key.index] || null;
      }
      if (!found && within && within !== partElement) found = within.querySelector("a[href]");
    }
    if (found) found.focus({ preventScroll: true });
  }

  function swapChain(fresh) {
    var current = part(scope, "chain");
    var incoming = part(fresh, "chain");
    if (!current || !incoming) return false;
    var html = normalized(incoming);
    if (serverHtml.get(current) === html) return false;
    var adopted = doc.importNode(incoming, true);
    current.replaceWith(adopted);
    serverHtml.set(adopted, html);
    var section = adopted.querySelector(".chain");
    if (section) mark(section, "chain-updated");
    return true;
  }

  function swapMatches(fresh) {
    var current = part(scope, "matches");
    var incoming = part(fresh, "matches");
    if (!current || !incoming) return [];
    var count = current.querySelector("[data-live-count]");
    var newCount = incoming.querySelector("[data-live-count]");
    if (count && newCount && count.textContent !== newCount.textContent) count.textContent = newCount.textContent;

    var cards = current.querySelector("[data-live-cards]");
    var newCards = incoming.querySelector("[data-live-cards]");
    if (!cards || !newCards) return [];
    var wanted = cardsOf(newCards);
    var changed = [];
    if (!wanted.length) {
      // Nothing matches (or nothing exists): the server's message instead of the cards.
      if (cards.innerHTML !== newCards.innerHTML) {
        changed = cardsOf(cards).map(function (card) { return card.getAttribute("data-provider"); });
        cards.replaceChildren.apply(cards, Array.prototype.map.call(newCards.childNodes, function (node) {
          return doc.importNode(node, true);
        }));
      }
      return changed;
    }
    var existing = new Map();
    cardsOf(cards).forEach(function (card) {
      existing.set(card.getAttribute("data-provider"), card);
    });
    var order = wanted.map(function (card) {
      var id = card.getAttribute("data-provider");
      var html = normalized(card);
      var old = existing.get(id);
      existing.delete(id);
      if (old && serverHtml.get(old) === html) return old;
      var adopted = doc.importNode(card, true);
      serverHtml.set(adopted, html);
      changed.push(id);
      adopted.__changed = true;
      return adopted;
    });
    // Cards no longer listed or replaced by a new rendering, and the "no providers" message, go.
    var keep = new Set(order);
    existing.forEach(function (card) {
      changed.push(card.getAttribute("data-provider"));
    });
    Array.prototype.slice.call(cards.children).forEach(function (child) {
      if (!keep.has(child)) child.remove();
    });
    // The new order, moving only what is out of place.
    order.forEach(function (card, index) {
      if (cards.children[index] !== card) cards.insertBefore(card, cards.children[index] || null);
    });
    while (cards.children.length > order.length) cards.lastElementChild.remove();
    order.forEach(function (card) {
      if (card.__changed) {
        delete card.__changed;
        mark(card, "card-updated");
      }
    });
    return changed;
  }

  function swap(html) {
    var fresh = new root.DOMParser().parseFromString(html, "text/html");
    if (!fresh.querySelector("[data-live-region]")) throw new Error("the answer is not the list's live region");
    var focus = focusKey();
    var x = root.scrollX;
    var y = root.scrollY;
    var chainChanged = swapChain(fresh);
    var changed = swapMatches(fresh);
    restoreFocus(focus);
    if (root.scrollX !== x || root.scrollY !== y) root.scrollTo(x, y);
    if (root.ProviderConsole.reltime) root.ProviderConsole.reltime.refresh(scope);
    doc.dispatchEvent(new root.CustomEvent("console:list-updated", { detail: { changed: changed, chainChanged: chainChanged } }));
    return { changed: changed, chainChanged: chainChanged };
  }

  function fetchParts() {
    var headers = { Accept: "text/html" };
    headers[scope.getAttribute("data-fragment-header") || "X-Console-Fragment"] = "list";
    return root.fetch(root.location.pathname + root.location.search, {
      credentials: "same-origin",
      headers: headers,
      cache: "no-store",
      redirect: "manual",
    }).then(function (response) {
      // 400: a bad filter in the URL; the region still comes, with every card (as the page).
      if (!response.ok && response.status !== 400) throw new Error("the list answered " + response.status);
      return response.text();
    });
  }

  function run() {
    timer = null;
    if (inFlight) {
      again = true;
      return;
    }
    var resolvers = waiting;
    waiting = [];
    again = false;
    lastStart = Date.now();
    stats.requests += 1;
    note("fetch");
    scope.setAttribute("aria-busy", "true");
    inFlight = fetchParts()
      .then(function (html) {
        note("answered");
        var result = swap(html);
        note("swapped");
        return result;
      })
      .then(function (result) {
        failures = 0;
        return result;
      }, function (error) {
        if (root.console) root.console.warn("the provider list could not be refreshed", error);
        // A network blip: try again a little later, a few times.
        if (++failures <= 5) root.setTimeout(schedule, 2000 * failures);
        return null;
      })
      .then(function (result) {
        inFlight = null;
        scope.removeAttribute("aria-busy");
        resolvers.forEach(function (resolve) { resolve(result); });
        if (again || waiting.length) run();
      });
  }

  // What the last refreshes took (wall-clock ms): for tests and for anyone asking why.
  var stats = { requests: 0, log: [] };
  function note(what) {
    stats.log.push([what, Date.now()]);
    if (stats.log.length > 40) stats.log.shift();
  }

  function schedule() {
    note("event");
    if (inFlight) {
      again = true;
      return;
    }
    if (timer === null) timer = root.setTimeout(run, Math.max(COALESCE_MS, lastStart + SPACING_MS - Date.now()));
  }

  // At once (no debounce): for the page's own actions. Resolves after the swap.
  function refreshList() {
    if (!scope) return Promise.resolve(null);
    return new Promise(function (resolve) {
      waiting.push(resolve);
      if (timer !== null) {
        root.clearTimeout(timer);
        timer = null;
      }
      if (inFlight) again = true;
      else run();
    });
  }

  // --- Recent events ---------------------------------------------------------------------
  function recentEvents() {
    var table = doc.querySelector("table[data-recent-events]");
    if (!table) return null;
    var size = Number(table.getAttribute("data-size")) || 10;
    var providerUrl = table.getAttribute("data-provider-url") || "/providers/__id__/";
    var empty = doc.querySelector("[data-testid=no-recent-events]");
    return {
      latestId: Number(table.getAttribute("data-latest-id")) || 0,
      add: function (event) {
        var rows = root.ProviderConsole.eventRows;
        var tbody = table.tBodies[0];
        if (!rows || tbody.querySelector('tr[data-event-id="' + event.id + '"]')) return;
        var before = Array.prototype.find.call(tbody.rows, function (row) {
          return Number(row.getAttribute("data-event-id")) < event.id;
        }) || null;
        tbody.insertBefore(rows.buildRow(event, providerUrl), before);
        while (tbody.rows.length > size) tbody.deleteRow(tbody.rows.length - 1);
        if (empty) empty.hidden = true;
      },
    };
  }

  function start() {
    scope = doc.querySelector("[data-live-list]");
    if (!scope) return;
    doc.querySelectorAll("[data-live-part]").forEach(function (element) {
      remember(element);
      var cards = element.querySelector("[data-live-cards]");
      if (cards) cardsOf(cards).forEach(remember);
    });
    if (!scope.hasAttribute("data-live-stream") || !root.ProviderConsole.startEventStream) return;
    var recent = recentEvents();
    stream = root.ProviderConsole.startEventStream({
      onEvent: function (event) {
        if (recent) recent.add(event);
        if (LIVE_EVENTS.test(event.event || "")) schedule();
      },
      onEnd: function () {
        if (root.ProviderConsole.toast) {
          root.ProviderConsole.toast("Live updates stopped: your access changed. Reload the page.", "error");
        }
      },
    });
    // Start after the newest event the server knew when it drew the page: anything committed
    // since is fetched on connection, so no change is missed.
    if (recent && stream.highest === null && recent.latestId > 0) stream.highest = recent.latestId;
    root.ProviderConsole.listStream = stream;
  }

  root.ProviderConsole = root.ProviderConsole || {};
  root.ProviderConsole.refreshList = refreshList;
  root.ProviderConsole.listStats = stats;
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start);
  else start();
})(window);
