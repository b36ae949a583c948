/*
 * The events page (/events/): new audit rows appear at the top as they are committed, without a
 * reload, through ProviderConsole.startEventStream (static/js/events.js), which refills any gap
 * from GET /api/events?after_id=. The stream starts after the newest event the server knew of
 * when it drew the page (data-latest-id), so nothing committed in between is missed.
 *
 * The table's data- attributes carry the page's filters; a live row is shown only if it matches
 * them, as the server would have listed it. On a later page, rows are not inserted: a link
 * counts them and leads back to the newest. Rows are built with the same markup and the same
 * payload rules as templates/console/_event_row.html and console/eventrows.py, from text nodes
 * only (no HTML from the event is ever parsed).
 */
(function () {
  "use strict";

  var ABSENT = "\u2014";

  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Python's json.dumps(value, sort_keys=True, separators=(", ", ": ")), as the server shows it.
  function dumps(value) {
    if (value === null || value === undefined) return "null";
    if (Array.isArray(value)) return "[" + value.map(dumps).join(", ") + "]";
    if (typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (key) {
        return JSON.stringify(key) + ": " + dumps(value[key]);
      }).join(", ") + "}";
    }
    return JSON.stringify(value);
  }

  function showValue(value) {
    return typeof value === "string" ? value : dumps(value);
  }

  function isChange(value) {
    if (!value || typeof value !== "object" || Array.isArray(value)) return false;
    var keys = Object.keys(value);
    return keys.length > 0 && keys.every(function (k) {
      return k === "before" || k === "after";
    });
  }

  function side(change, name) {
    return Object.prototype.hasOwnProperty.call(change, name) ? showValue(change[name]) : ABSENT;
  }

  // The same rules as console/eventrows.py payload_view().
  function payloadView(payload) {
    var changes = [];
    var details = [];
    if (!payload || typeof payload !== "object" || Array.isArray(payload)) payload = { value: payload };
    var hasBeforeAfter = "before" in payload && "after" in payload;
    Object.keys(payload).forEach(function (key) {
      var value = payload[key];
      if (key === "changes" && value && typeof value === "object" && !Array.isArray(value) &&
          Object.keys(value).every(function (f) { return isChange(value[f]); })) {
        Object.keys(value).forEach(function (field) {
          changes.push([field, side(value[field], "before"), side(value[field], "after")]);
        });
      } else if (key === "fields" && value && typeof value === "object" && !Array.isArray(value)) {
        Object.keys(value).forEach(function (field) {
          changes.push([field, ABSENT, showValue(value[field])]);
        });
      } else if ((key === "before" || key === "after") && hasBeforeAfter) {
        if (key !== "before") return;
        var before = payload.before;
        var after = payload.after;
        if (before && after && typeof before === "object" && typeof after === "object" && !Array.isArray(before) && !Array.isArray(after)) {
          var keys = Object.keys(before).concat(Object.keys(after).filter(function (k) { return !(k in before); }));
          keys.forEach(function (k) {
            changes.push([k, k in before ? showValue(before[k]) : ABSENT, k in after ? showValue(after[k]) : ABSENT]);
          });
        } else {
          changes.push(["status", showValue(before), showValue(after)]);
        }
      } else {
        details.push([key, showValue(value)]);
      }
    });
    return { changes: changes, details: details };
  }

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function stamp(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) + " " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + ":" + two(d.getUTCSeconds());
  }

  function buildRow(event, providerUrl) {
    var view = payloadView(event.payload);
    var summary = el("summary", {}, [event.summary]);
    if (event.masked) {
      summary.appendChild(document.createTextNode(" "));
      summary.appendChild(el("small", { class: "masked-note" }, ["(values masked)"]));
    }
    var details = el("details", {}, [summary]);
    if (view.changes.length) {
      var body = el("tbody", {}, view.changes.map(function (c) {
        return el("tr", {}, [el("th", { scope: "row" }, [el("code", {}, [c[0]])]), el("td", {}, [c[1]]), el("td", {}, [c[2]])]);
      }));
      details.appendChild(el("table", { class: "payload-changes" }, [
        el("thead", {}, [el("tr", {}, [el("th", { scope: "col" }, ["Field"]), el("th", { scope: "col" }, ["Before"]), el("th", { scope: "col" }, ["After"])])]),
        body,
      ]));
    }
    if (view.details.length) {
      var dl = el("dl", { class: "payload-details" });
      view.details.forEach(function (d) {
        dl.appendChild(el("dt", {}, [el("code", {}, [d[0]])]));
        dl.appendChild(el("dd", {}, [d[1]]));
      });
      details.appendChild(dl);
    }
    if (!view.changes.length && !view.details.length) details.appendChild(el("p", { class: "help" }, ["No details."]));
    if (event.request_id) details.appendChild(el("p", { class: "help" }, ["Request ", el("code", {}, [event.request_id])]));
    var provider = event.provider_id
      ? el("a", { href: providerUrl.replace("__id__", encodeURIComponent(event.provider_id)) }, [event.provider_id])
      : ABSENT;
    return el("tr", { class: "event-row event-new-row", "data-event-id": String(event.id), "data-testid": "event-row" }, [
      el("td", { class: "event-time" }, [el("time", { datetime: event.created_at, title: event.created_at }, [stamp(event.created_at)])]),
      el("td", {}, [el("code", {}, [event.event])]),
      el("td", {}, [provider]),
      el("td", {}, [event.actor]),
      el("td", { class: "event-summary" }, [details]),
    ]);
  }

  function matcher(table) {
    var events = (table.dataset.filterEvents || "").split(" ").filter(Boolean);
    var provider = table.dataset.filterProvider || "";
    var actor = table.dataset.filterActor || "";
    var since = table.dataset.filterSince ? Date.parse(table.dataset.filterSince) : null;
    var until = table.dataset.filterUntil ? Date.parse(table.dataset.filterUntil) : null;
    return function (event) {
      if (events.length && events.indexOf(event.event) < 0) return false;
      if (provider && event.provider_id !== provider) return false;
      if (actor && event.actor !== actor) return false;
      var created = Date.parse(event.created_at);
      if (since !== null && created < since) return false;
      if (until !== null && created >= until) return false;
      return true;
    };
  }

  // For tests: the same rules as console/eventrows.py, and the row builder.
  window.ProviderConsole = window.ProviderConsole || {};
  window.ProviderConsole.eventRows = { payloadView: payloadView, buildRow: buildRow };

  ready(function () {
    var table = document.querySelector("table[data-events-live]");
    if (!table || !root().ProviderConsole) return;
    var live = table.dataset.eventsLive === "true";
    var tbody = table.tBodies[0];
    var matches = matcher(table);
    var providerUrl = table.dataset.providerUrl || "/providers/__id__/";
    var notice = document.querySelector("[data-testid=event-new]");
    var newer = 0;
    var empty = document.querySelector("[data-testid=no-events]");
    var stream = root().ProviderConsole.startEventStream({
      onEvent: function (event) {
        if (!matches(event)) return;
        if (!live) {
          newer += 1;
          if (notice) {
            notice.hidden = false;
            notice.querySelector("[data-new-count]").textContent = String(newer);
          }
          return;
        }
        if (tbody.querySelector('tr[data-event-id="' + event.id + '"]')) return;
        // Newest first: before the first row with a smaller id.
        var rows = tbody.rows;
        var before = null;
        for (var i = 0; i < rows.length; i++) {
          if (Number(rows[i].dataset.eventId) < event.id) {
            before = rows[i];
            break;
          }
        }
        tbody.insertBefore(buildRow(event, providerUrl), before);
        if (empty) empty.hidden = true;
      },
    });
    var latest = Number(table.dataset.latestId);
    if (stream.highest === null && latest > 0) stream.highest = latest;
    root().ProviderConsole.eventsPageStream = stream;
  });

  function root() {
    return window;
  }
})();
